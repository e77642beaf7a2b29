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
