// RMSNorm of one row per block, as model.rmsNorm computes it for a bfloat16 model:
//
//   out[b,i] = bf16( w[i] · bf16( x[b,i] / √(mean_i x[b,i]² + ε) ) )     (x, w, out bfloat16 bits)
//
// Reference: rmsNormRef in gomlxgrpo/cuda/kernels_test.go (and model.rmsNorm).

#include "common.cuh"

#define THREADS 256

extern "C" __global__ void __launch_bounds__(THREADS) rmsnorm_bf16(const unsigned short* __restrict__ x,
                                                                    const unsigned short* __restrict__ w,
                                                                    unsigned short* __restrict__ out, int D, float eps) {
  __shared__ float red[THREADS / 32];
  const unsigned short* row = x + (long long)blockIdx.x * D;
  float ss = 0.f;
  for (int i = threadIdx.x; i < D; i += THREADS) {
    float v = bf16_to_f32(row[i]);
    ss += v * v;
  }
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    ss = threadIdx.x < THREADS / 32 ? red[threadIdx.x] : 0.f;
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, o);
    if (threadIdx.x == 0) red[0] = ss;
  }
  __syncthreads();
  const float inv = 1.f / sqrtf(red[0] / D + eps);
  unsigned short* o = out + (long long)blockIdx.x * D;
  for (int i = threadIdx.x; i < D; i += THREADS) {
    float n = bf16_to_f32(f32_to_bf16(bf16_to_f32(row[i]) * inv));
    o[i] = f32_to_bf16(bf16_to_f32(w[i]) * n);
  }
}
