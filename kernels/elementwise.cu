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
