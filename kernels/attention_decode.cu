// Decode attention for one new position per row over the K/V cache (grouped-query), as
// model.groupedAttention computes it for T = 1 with a bfloat16 model:
//
//   score_s = bf16(q[b,n,:]·kcache[b,n/G,s,:]) / √H        for s with mask_s, else −∞
//   mask_s  = (valid[b,s] ∧ s ≤ w) ∨ s = w                   w = write_idx (the new position)
//   p_s     = bf16(softmax_s(score))
//   out[b,n,:] = bf16(Σ_s p_s · vcache[b,n/G,s,:])
//
// q [B, N, H], caches [B, K, S, H], out [B, N·H]: bfloat16 bits; valid [B, S] bytes (0/1).
// One block per (b, n); scores for all S in shared memory (S ≤ 16384: 64 KiB, set by the launcher).

#include "common.cuh"

#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS) attention_decode_bf16(
    const unsigned short* __restrict__ q, const unsigned short* __restrict__ kcache,
    const unsigned short* __restrict__ vcache, const unsigned char* __restrict__ valid,
    unsigned short* __restrict__ out, int N, int K, int H, int S, const int* __restrict__ write_idx_p) {
  const int write_idx = *write_idx_p;  // device memory: one captured CUDA graph serves every step
  DYNAMIC_SHARED(float, sc);  // [S] scores, then probabilities
  __shared__ float red[THREADS / 32];
  __shared__ float qs[256];      // H ≤ 256
  const int b = blockIdx.x, n = blockIdx.y, kh = n / (N / K);
  const unsigned short* qrow = q + ((long long)b * N + n) * H;
  for (int i = threadIdx.x; i < H; i += THREADS) qs[i] = bf16_to_f32(qrow[i]);
  __syncthreads();
  const unsigned short* kb = kcache + ((long long)b * K + kh) * S * H;
  const unsigned short* vb = vcache + ((long long)b * K + kh) * S * H;
  const float scale = 1.f / sqrtf((float)H);
  // Scores: one warp per key position.
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  for (int s = warp; s < S; s += THREADS / 32) {
    const bool on = (valid[(long long)b * S + s] && s <= write_idx) || s == write_idx;
    float d = 0.f;
    if (on)
      for (int i = lane; i < H; i += 32) d += qs[i] * bf16_to_f32(kb[(long long)s * H + i]);
    for (int o = 16; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffff, d, o);
    if (lane == 0) sc[s] = on ? bf16_to_f32(f32_to_bf16(d)) * scale : -INFINITY;
  }
  __syncthreads();
  float m = -INFINITY;
  for (int s = threadIdx.x; s < S; s += THREADS) m = fmaxf(m, sc[s]);
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = -INFINITY;
  for (int i = 0; i < THREADS / 32; i++) m = fmaxf(m, red[i]);
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
  for (int i = 0; i < THREADS / 32; i++) z += red[i];
  for (int s = threadIdx.x; s < S; s += THREADS) sc[s] = bf16_to_f32(f32_to_bf16(sc[s] / z));
  __syncthreads();
  // Output: thread i accumulates dimension i over all positions.
  for (int i = threadIdx.x; i < H; i += THREADS) {
    float acc = 0.f;
    for (int s = 0; s < S; s++) {
      const float p = sc[s];
      if (p != 0.f) acc += p * bf16_to_f32(vb[(long long)s * H + i]);
    }
    out[((long long)b * N + n) * H + i] = f32_to_bf16(acc);
  }
}
