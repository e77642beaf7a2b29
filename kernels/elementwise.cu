// Small element-wise steps of the decode layer, bfloat16 activations as the GoMLX path keeps them:
//
//   embed_rows:  x[b,:] = E[ids[b], :]
//   residual_add: x = bf16(x + bf16(y))                        (x bf16 bits, y float32)
//   swiglu:       act = bf16(bf16(g)·σ(bf16(g)) · bf16(u))      (g, u float32 projection outputs,
//                 rows `stride` floats apart: F for separate gate/up, 2F for Phi-3's gate_up_proj)
//
// One thread per element.

#include "common.cuh"

extern "C" __global__ void embed_rows_bf16(const int* __restrict__ ids, const unsigned short* __restrict__ E,
                                           unsigned short* __restrict__ x, int B, int D) {
  pdl_start();
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= (long long)B * D) return;
  const int b = t / D, i = t % D;
  x[t] = E[(long long)ids[b] * D + i];
}

extern "C" __global__ void residual_add_bf16(unsigned short* __restrict__ x, const float* __restrict__ y, long long n) {
  pdl_start();
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= n) return;
  x[t] = f32_to_bf16(bf16_to_f32(x[t]) + bf16_to_f32(f32_to_bf16(y[t])));
}

extern "C" __global__ void swiglu_bf16(const float* __restrict__ g, const float* __restrict__ u,
                                       unsigned short* __restrict__ act, int B, int F, int stride) {
  pdl_start();
  long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= (long long)B * F) return;
  const long long at = (t / F) * stride + t % F;
  const float gv = bf16_to_f32(f32_to_bf16(g[at]));
  const float silu = bf16_to_f32(f32_to_bf16(gv * bf16_to_f32(f32_to_bf16(1.f / (1.f + expf(-gv))))));
  act[t] = f32_to_bf16(silu * bf16_to_f32(f32_to_bf16(u[at])));
}

// swiglu_lora_bf16: swiglu_bf16 with the down projection's LoRA down-projection fused (one launch
// instead of two in the decode step):
//
//   act[b,i] as swiglu_bf16;   ud[b, j] = Σ_i act[b,i] · A[j,i]      (A [r, F] float32)
//
// Grid (B, J), SWIGLU_THREADS threads: block (b, c) recomputes row b's act (2·F floats read again
// from L2 by each of its J blocks) and the outputs c·per … c·per + per − 1 (per ≤ SWIGLU_PER);
// block (b, 0) writes act. act is swiglu_bf16's bits. A thread's elements go SWIGLU_CHUNK at a
// time with all their loads issued before the arithmetic (one load round trip per element, the
// first version, took longer than the two launches it replaced).
#define SWIGLU_PER 4
#define SWIGLU_THREADS 512
#define SWIGLU_CHUNK 8

extern "C" __global__ void __launch_bounds__(SWIGLU_THREADS) swiglu_lora_bf16(const float* __restrict__ g, const float* __restrict__ u,
                                                                             unsigned short* __restrict__ act, int F, int stride,
                                                                             const float* __restrict__ A, float* __restrict__ ud,
                                                                             int r, int per) {
  pdl_start();
  __shared__ float red[SWIGLU_PER][SWIGLU_THREADS / 32];
  const int b = blockIdx.x, c = blockIdx.y;
  const int j0 = c * per, nj = min(per, r - j0);
  const float* Ak[SWIGLU_PER];
#pragma unroll
  for (int k = 0; k < SWIGLU_PER; k++) Ak[k] = A + (long long)min(j0 + k, r - 1) * F;
  float acc[SWIGLU_PER] = {0.f, 0.f, 0.f, 0.f};
  for (int i0 = threadIdx.x; i0 < F; i0 += SWIGLU_THREADS * SWIGLU_CHUNK) {
    float gv[SWIGLU_CHUNK], uv[SWIGLU_CHUNK], av[SWIGLU_PER][SWIGLU_CHUNK];
#pragma unroll
    for (int e = 0; e < SWIGLU_CHUNK; e++) {
      const int i = i0 + SWIGLU_THREADS * e;
      const bool in = i < F;
      gv[e] = in ? g[(long long)b * stride + i] : 0.f;
      uv[e] = in ? u[(long long)b * stride + i] : 0.f;
#pragma unroll
      for (int k = 0; k < SWIGLU_PER; k++) av[k][e] = in && k < nj ? Ak[k][i] : 0.f;
    }
#pragma unroll
    for (int e = 0; e < SWIGLU_CHUNK; e++) {
      const int i = i0 + SWIGLU_THREADS * e;
      if (i >= F) continue;
      const float gb = bf16_to_f32(f32_to_bf16(gv[e]));
      const float silu = bf16_to_f32(f32_to_bf16(gb * bf16_to_f32(f32_to_bf16(1.f / (1.f + expf(-gb))))));
      const unsigned short a = f32_to_bf16(silu * bf16_to_f32(f32_to_bf16(uv[e])));
      if (c == 0) act[(long long)b * F + i] = a;
      const float x = bf16_to_f32(a);
#pragma unroll
      for (int k = 0; k < SWIGLU_PER; k++) acc[k] += x * av[k][e];
    }
  }
  const float v = block_sum_outputs(acc, red);
  if (threadIdx.x < nj) ud[(long long)b * r + j0 + threadIdx.x] = v;
}

// swiglu_lora_split_bf16: swiglu_lora_bf16 with the blocks split over F instead of over the
// outputs, so that g, u and A are each read once per launch (the row split reads a row's 2·F floats
// once per block of the row: 18 MiB through L2 for Phi-4's F = 17,920 at batch 8, where these are
// 1.1 MiB):
//
//   act[b,i] as swiglu_bf16;   ud[b, j] = Σ_c Σ_{i in slice c} act[b,i] · A[j,i]
//
// Grid (J ≤ 64), 256 threads. Block c takes the slice i = c·S … c·S + S − 1 (S = 32·se columns,
// se ≤ SPLIT_SE) for every row. Per 16 outputs j it first stages A's 16 × S slice in shared memory
// (its 8 warps then read it from there, not 8 times from L2: the first version read it from
// global memory and lost, H100 round 52), then warp w takes rows w, w + 8, …, lane l the columns
// c·S + l + 32·e: it writes act (swiglu_bf16's bits, on the first 16 outputs' pass) and the slice's
// partial sums (lane terms in e order, then a butterfly over the lanes) to ws[(b·r + j)·J + c], so
// that the finish reads each output's partials in coalesced loads. The launch's last block (counter
// cnt, left at zero) adds each output's J partials in a fixed order (lane l takes blocks l and
// l + 32, then a butterfly), so the same bits on every run.
#define SPLIT_SE 12
#define SPLIT_THREADS 256
#define SPLIT_J 16  // outputs per pass over a row's act

extern "C" __global__ void __launch_bounds__(SPLIT_THREADS) swiglu_lora_split_bf16(
    const float* __restrict__ g, const float* __restrict__ u, unsigned short* __restrict__ act, int B, int F, int stride,
    const float* __restrict__ A, float* __restrict__ ud, int r, int se, float* __restrict__ ws, unsigned int* __restrict__ cnt) {
  pdl_start();
  __shared__ float As[SPLIT_J][32 * SPLIT_SE];
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, c = blockIdx.x, J = gridDim.x, S = 32 * se;
  const int c0 = c * S;
  for (int j0 = 0; j0 < r; j0 += SPLIT_J) {
    __syncthreads();  // the previous pass's reads of As are done
    for (int t = threadIdx.x; t < SPLIT_J * S; t += SPLIT_THREADS) {
      const int k = t / S, col = t % S;
      As[k][col] = j0 + k < r && c0 + col < F ? A[(long long)(j0 + k) * F + c0 + col] : 0.f;
    }
    __syncthreads();
    for (int b = warp; b < B; b += SPLIT_THREADS / 32) {
      float a[SPLIT_SE];
#pragma unroll
      for (int e = 0; e < SPLIT_SE; e++) {
        const int i = c0 + lane + 32 * e;
        a[e] = 0.f;
        if (e < se && i < F) {
          const float gb = bf16_to_f32(f32_to_bf16(g[(long long)b * stride + i]));
          const float silu = bf16_to_f32(f32_to_bf16(gb * bf16_to_f32(f32_to_bf16(1.f / (1.f + expf(-gb))))));
          const unsigned short h = f32_to_bf16(silu * bf16_to_f32(f32_to_bf16(u[(long long)b * stride + i])));
          if (j0 == 0) act[(long long)b * F + i] = h;
          a[e] = bf16_to_f32(h);
        }
      }
      float acc[SPLIT_J];
#pragma unroll
      for (int k = 0; k < SPLIT_J; k++) {
        acc[k] = 0.f;
#pragma unroll
        for (int e = 0; e < SPLIT_SE; e++)
          if (e < se) acc[k] += a[e] * As[k][lane + 32 * e];  // columns past F hold a = 0 and As = 0
      }
      float mine = 0.f;  // lane k keeps output j0 + k
#pragma unroll
      for (int k = 0; k < SPLIT_J; k++) {
        for (int o = 16; o > 0; o >>= 1) acc[k] += __shfl_xor_sync(0xffffffffu, acc[k], o);
        if (lane == k) mine = acc[k];
      }
      if (lane < SPLIT_J && j0 + lane < r) ws[((long long)b * r + j0 + lane) * J + c] = mine;
    }
  }
  // The split-K finish, as mma_finish_warp: the block's partials before thread 0's release, its
  // acquire before the last block's loads.
  __shared__ unsigned int last;
  __syncthreads();
  if (threadIdx.x == 0) last = atomic_add_acq_rel(cnt, 1u) == (unsigned int)(J - 1);
  __syncthreads();
  if (!last) return;
  // Warp w takes outputs w·16 … w·16 + 15, then 128 on; lane l blocks l and l + 32 of each (J ≤ 64,
  // SwiGLULoRA's launcher), all 32 loads in flight at once.
  for (int t0 = warp * SPLIT_J; t0 < B * r; t0 += SPLIT_THREADS / 32 * SPLIT_J) {
    float v[SPLIT_J];
#pragma unroll
    for (int k = 0; k < SPLIT_J; k++) {
      const float* p = ws + (long long)(t0 + k) * J;
      const bool in = t0 + k < B * r;
      v[k] = (in && lane < J ? ld_cg(p + lane) : 0.f) + (in && lane + 32 < J ? ld_cg(p + lane + 32) : 0.f);
    }
    float mine = 0.f;
#pragma unroll
    for (int k = 0; k < SPLIT_J; k++) {
      for (int o = 16; o > 0; o >>= 1) v[k] += __shfl_xor_sync(0xffffffffu, v[k], o);
      if (lane == k) mine = v[k];
    }
    if (lane < SPLIT_J && t0 + lane < B * r) ud[t0 + lane] = mine;
  }
  if (threadIdx.x == 0) *cnt = 0;
}
