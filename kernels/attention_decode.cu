// Decode attention for one new position per row over the K/V cache (grouped-query), as
// model.groupedAttention computes it for T = 1 with a bfloat16 model:
//
//   score_s = bf16(q[b,n,:]·kcache[b,n/G,s,:]) / √H        for s with mask_s, else −∞
//   mask_s  = (valid[b,s] ∧ s ≤ w) ∨ s = w                   w = write_idx (the new position)
//   p_s     = bf16(softmax_s(score))
//   out[b,n,:] = bf16(Σ_s p_s · vcache[b,n/G,s,:])
//
// q [B, N, H], caches [B, K, S, H], out [B, N·H]: bfloat16 bits; valid [B, S] bytes (0/1);
// H % 4 == 0, H ≤ 256. One block per (b, n); scores for all S in shared memory (set by the launcher).
//
// Decoding reads the whole cache once per token, so both passes over it are written for memory
// parallelism (the first version, one position per warp step and one thread per output dimension
// walking all S positions, was latency-bound): each warp takes positions s ≡ warp (mod 8), UNROLL of
// them at a time with all their loads issued first; a lane holds 4 consecutive dimensions (one
// 8-byte load), so a position's row is one coalesced 256-byte read for H = 128. The output pass keeps
// per-warp partial sums, added across the 8 warps through shared memory at the end.

#include "common.cuh"

#define THREADS 256
#define WARPS (THREADS / 32)
#define UNROLL 8
#define HMAX 256

struct bf16x4 {
  unsigned int lo, hi;
};

__device__ __forceinline__ bf16x4 load4(const unsigned short* p) {
  const uint2 v = *reinterpret_cast<const uint2*>(p);
  return {v.x, v.y};
}

__device__ __forceinline__ void unpack4(bf16x4 v, float (&f)[4]) {
  f[0] = bf16_to_f32((unsigned short)(v.lo & 0xffff));
  f[1] = bf16_to_f32((unsigned short)(v.lo >> 16));
  f[2] = bf16_to_f32((unsigned short)(v.hi & 0xffff));
  f[3] = bf16_to_f32((unsigned short)(v.hi >> 16));
}

extern "C" __global__ void __launch_bounds__(THREADS) attention_decode_bf16(
    const unsigned short* __restrict__ q, const unsigned short* __restrict__ kcache,
    const unsigned short* __restrict__ vcache, const unsigned char* __restrict__ valid,
    unsigned short* __restrict__ out, int N, int K, int H, int S, const int* __restrict__ write_idx_p) {
  const int write_idx = *write_idx_p;  // device memory: one captured CUDA graph serves every step
  DYNAMIC_SHARED(float, sc);           // [S] scores, then probabilities
  __shared__ float red[WARPS];
  __shared__ float part[WARPS][HMAX];  // per-warp partial outputs
  const int b = blockIdx.x, n = blockIdx.y, kh = n / (N / K);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  // Lane's dimensions: 4·lane … 4·lane+3, and 128 more for H = 256 (G groups of 128 dims).
  const int G = (H + 127) / 128;
  const unsigned short* qrow = q + ((long long)b * N + n) * H;
  float qv[2][4];
#pragma unroll
  for (int g = 0; g < 2; g++) {
    const int i = g * 128 + 4 * lane;
    if (g < G && i < H) {
      unpack4(load4(qrow + i), qv[g]);
    } else {
#pragma unroll
      for (int k = 0; k < 4; k++) qv[g][k] = 0.f;
    }
  }
  const unsigned short* kb = kcache + ((long long)b * K + kh) * S * H;
  const unsigned short* vb = vcache + ((long long)b * K + kh) * S * H;
  const unsigned char* vrow = valid + (long long)b * S;
  const float scale = 1.f / sqrtf((float)H);

  // Scores: positions s = s0 + warp + WARPS·u, u < UNROLL.
  for (int s0 = 0; s0 < S; s0 += WARPS * UNROLL) {
    bf16x4 kv[UNROLL][2];
    bool on[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int s = s0 + warp + WARPS * u;
      on[u] = s < S && ((vrow[s] && s <= write_idx) || s == write_idx);
#pragma unroll
      for (int g = 0; g < 2; g++) {
        const int i = g * 128 + 4 * lane;
        kv[u][g] = on[u] && g < G && i < H ? load4(kb + (long long)s * H + i) : bf16x4{0u, 0u};
      }
    }
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      float d = 0.f, f[4];
#pragma unroll
      for (int g = 0; g < 2; g++) {
        unpack4(kv[u][g], f);
#pragma unroll
        for (int k = 0; k < 4; k++) d += qv[g][k] * f[k];
      }
      for (int o = 16; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffff, d, o);
      const int s = s0 + warp + WARPS * u;
      if (lane == 0 && s < S) sc[s] = on[u] ? bf16_to_f32(f32_to_bf16(d)) * scale : -INFINITY;
    }
  }
  __syncthreads();
  float m = -INFINITY;
  for (int s = threadIdx.x; s < S; s += THREADS) m = fmaxf(m, sc[s]);
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = -INFINITY;
  for (int i = 0; i < WARPS; i++) m = fmaxf(m, red[i]);
  __syncthreads();
  float z = 0.f;
  for (int s = threadIdx.x; s < S; s += THREADS) {
    float e = expf(sc[s] - m);
    sc[s] = e;
    z += e;
  }
  for (int o = 16; o > 0; o >>= 1) z += __shfl_xor_sync(0xffffffff, z, o);
  if (lane == 0) red[warp] = z;
  __syncthreads();
  z = 0.f;
  for (int i = 0; i < WARPS; i++) z += red[i];
  for (int s = threadIdx.x; s < S; s += THREADS) sc[s] = bf16_to_f32(f32_to_bf16(sc[s] / z));
  __syncthreads();

  // Output: warp-partial Σ_s p_s·v_s over the warp's positions, then summed across warps.
  float acc[2][4];
#pragma unroll
  for (int g = 0; g < 2; g++)
#pragma unroll
    for (int k = 0; k < 4; k++) acc[g][k] = 0.f;
  for (int s0 = 0; s0 < S; s0 += WARPS * UNROLL) {
    bf16x4 vv[UNROLL][2];
    float p[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int s = s0 + warp + WARPS * u;
      p[u] = s < S ? sc[s] : 0.f;  // 0 for masked positions: their rows are not read
#pragma unroll
      for (int g = 0; g < 2; g++) {
        const int i = g * 128 + 4 * lane;
        vv[u][g] = p[u] != 0.f && g < G && i < H ? load4(vb + (long long)s * H + i) : bf16x4{0u, 0u};
      }
    }
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      float f[4];
#pragma unroll
      for (int g = 0; g < 2; g++) {
        unpack4(vv[u][g], f);
#pragma unroll
        for (int k = 0; k < 4; k++) acc[g][k] += p[u] * f[k];
      }
    }
  }
#pragma unroll
  for (int g = 0; g < 2; g++) {
    const int i = g * 128 + 4 * lane;
    if (g < G && i < H)
#pragma unroll
      for (int k = 0; k < 4; k++) part[warp][i + k] = acc[g][k];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < H; i += THREADS) {
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; w++) v += part[w][i];
    out[((long long)b * N + n) * H + i] = f32_to_bf16(v);
  }
}
