// RMSNorm of one row per block, as model.rmsNorm computes it for a bfloat16 model:
//
//   out[b,i] = bf16( w[i] · bf16( x[b,i] / √(mean_i x[b,i]² + ε) ) )     (x, w, out bfloat16 bits)
//
// and its fused form after a residual add (one launch instead of two, as the decoder applies a
// norm after every residual):
//
//   x[b,i] = bf16(x[b,i] + bf16(y[b,i]));  out = rmsnorm(x)          (y float32)
//
// Both sum the squares in the same thread order, so the fused form equals residual_add_bf16
// followed by rmsnorm_bf16 bit for bit. Reference: rmsNormRef in gomlxgrpo/cuda/decode_test.go
// (and model.rmsNorm).

#include "common.cuh"

#define THREADS 256

// row_inv_rms returns 1/√(mean(ss over the block) + ε) to every thread (ss: this thread's sum).
__device__ __forceinline__ float row_inv_rms(float ss, int D, float eps) {
  __shared__ float red[THREADS / 32];
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, o);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    ss = threadIdx.x < THREADS / 32 ? red[threadIdx.x] : 0.f;
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, o);
    if (threadIdx.x == 0) red[0] = ss;
  }
  __syncthreads();
  return 1.f / sqrtf(red[0] / D + eps);
}

// normalize writes out = bf16(w · bf16(row · inv)) for the thread's elements.
__device__ __forceinline__ void normalize(const unsigned short* row, const unsigned short* __restrict__ w,
                                          unsigned short* __restrict__ o, int D, float inv) {
  for (int i = threadIdx.x; i < D; i += THREADS) {
    float n = bf16_to_f32(f32_to_bf16(bf16_to_f32(row[i]) * inv));
    o[i] = f32_to_bf16(bf16_to_f32(w[i]) * n);
  }
}

extern "C" __global__ void __launch_bounds__(THREADS) rmsnorm_bf16(const unsigned short* __restrict__ x,
                                                                    const unsigned short* __restrict__ w,
                                                                    unsigned short* __restrict__ out, int D, float eps) {
  pdl_start();
  const unsigned short* row = x + (long long)blockIdx.x * D;
  float ss = 0.f;
  for (int i = threadIdx.x; i < D; i += THREADS) {
    float v = bf16_to_f32(row[i]);
    ss += v * v;
  }
  normalize(row, w, out + (long long)blockIdx.x * D, D, row_inv_rms(ss, D, eps));
}

extern "C" __global__ void __launch_bounds__(THREADS) residual_rmsnorm_bf16(unsigned short* __restrict__ x,
                                                                             const float* __restrict__ y,
                                                                             const unsigned short* __restrict__ w,
                                                                             unsigned short* __restrict__ out, int D,
                                                                             float eps) {
  pdl_start();
  unsigned short* row = x + (long long)blockIdx.x * D;
  const float* yrow = y + (long long)blockIdx.x * D;
  float ss = 0.f;
  for (int i = threadIdx.x; i < D; i += THREADS) {  // each thread later reads back only what it wrote
    const unsigned short s = f32_to_bf16(bf16_to_f32(row[i]) + bf16_to_f32(f32_to_bf16(yrow[i])));
    row[i] = s;
    const float v = bf16_to_f32(s);
    ss += v * v;
  }
  normalize(row, w, out + (long long)blockIdx.x * D, D, row_inv_rms(ss, D, eps));
}
