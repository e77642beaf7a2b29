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

// residual_rmsnorm_lora_bf16: the norm that feeds LoRA adapters, with their down-projections
// fused (one launch instead of two per norm in the decode step, where each launch costs more than
// its work):
//
//   xo = bf16(x + bf16(y))  (y null: xo = x, not written);  out = rmsnorm(xo)·w  (as above)
//   u_m[b, j] = Σ_i out[b,i] · A_m[j,i]            for the n ≤ 3 adapters m of rank r (A_m [r, D] float32)
//
// Grid (B, J): block (b, c) recomputes row b's norm (the row is a few KiB, read again from L2 by
// each of its J blocks) and then the outputs c·per … c·per + per − 1 of the row's n·r concatenated
// ones (per ≤ LORA_PER), so that the adapters' rows are read by about one block per SM; block
// (b, 0) writes xo and out. xo must not alias x, which the row's other blocks are still reading:
// the decoder alternates two buffers. out and xo are residual_rmsnorm_bf16's bits (a thread takes
// the same elements in the same order); u sums in another order than lora_down (same terms).
//
// A thread's elements i = t + THREADS·e go LORA_CHUNK at a time with all their loads issued before
// the arithmetic: the first version walked them one load round trip each (D/256 of them per pass)
// and took longer than the two launches it replaced (H100, ninth session).
#define LORA_PER 4
#define LORA_CHUNK 8

// norm_in returns element i of row x (+ y): the residual sum's bits, as residual_rmsnorm_bf16.
__device__ __forceinline__ unsigned short norm_in(const unsigned short* row, const float* yrow, int i) {
  return yrow != nullptr ? f32_to_bf16(bf16_to_f32(row[i]) + bf16_to_f32(f32_to_bf16(yrow[i]))) : row[i];
}

extern "C" __global__ void __launch_bounds__(THREADS) residual_rmsnorm_lora_bf16(
    const unsigned short* __restrict__ x, const float* __restrict__ y, const unsigned short* __restrict__ w,
    unsigned short* __restrict__ xo, unsigned short* __restrict__ out, int D, float eps, const float* __restrict__ A0,
    const float* __restrict__ A1, const float* __restrict__ A2, float* __restrict__ u0, float* __restrict__ u1,
    float* __restrict__ u2, int r, int n, int per) {
  pdl_start();
  __shared__ float red[LORA_PER][THREADS / 32];
  const int b = blockIdx.x, c = blockIdx.y;
  const unsigned short* row = x + (long long)b * D;
  const float* yrow = y != nullptr ? y + (long long)b * D : nullptr;
  float ss = 0.f;
  for (int i0 = threadIdx.x; i0 < D; i0 += THREADS * LORA_CHUNK) {
    unsigned short sv[LORA_CHUNK];
#pragma unroll
    for (int e = 0; e < LORA_CHUNK; e++) {
      const int i = i0 + THREADS * e;
      sv[e] = i < D ? norm_in(row, yrow, i) : 0;
    }
#pragma unroll
    for (int e = 0; e < LORA_CHUNK; e++) {
      const float v = bf16_to_f32(sv[e]);
      if (i0 + THREADS * e < D) ss += v * v;  // the same additions in the same order as residual_rmsnorm_bf16
    }
  }
  const float inv = row_inv_rms(ss, D, eps);
  const int j0 = c * per, nj = min(per, n * r - j0);
  const float* A[LORA_PER];
#pragma unroll
  for (int k = 0; k < LORA_PER; k++) {
    const int j = min(j0 + k, n * r - 1), m = j / r;
    A[k] = (m == 0 ? A0 : m == 1 ? A1 : A2) + (long long)(j % r) * D;
  }
  float acc[LORA_PER] = {0.f, 0.f, 0.f, 0.f};
  for (int i0 = threadIdx.x; i0 < D; i0 += THREADS * LORA_CHUNK) {
    unsigned short sv[LORA_CHUNK], wv[LORA_CHUNK];
    float av[LORA_PER][LORA_CHUNK];
#pragma unroll
    for (int e = 0; e < LORA_CHUNK; e++) {
      const int i = i0 + THREADS * e;
      const bool in = i < D;
      sv[e] = in ? norm_in(row, yrow, i) : 0;
      wv[e] = in ? w[i] : 0;
#pragma unroll
      for (int k = 0; k < LORA_PER; k++) av[k][e] = in && k < nj ? A[k][i] : 0.f;
    }
#pragma unroll
    for (int e = 0; e < LORA_CHUNK; e++) {
      const int i = i0 + THREADS * e;
      if (i >= D) continue;
      const unsigned short h = f32_to_bf16(bf16_to_f32(wv[e]) * bf16_to_f32(f32_to_bf16(bf16_to_f32(sv[e]) * inv)));
      if (c == 0) {
        if (yrow != nullptr) xo[(long long)b * D + i] = sv[e];
        out[(long long)b * D + i] = h;
      }
      const float hv = bf16_to_f32(h);
#pragma unroll
      for (int k = 0; k < LORA_PER; k++) acc[k] += hv * av[k][e];
    }
  }
  const float v = block_sum_outputs(acc, red);
  if (threadIdx.x < nj) {
    const int j = j0 + threadIdx.x, m = j / r;
    (m == 0 ? u0 : m == 1 ? u1 : u2)[(long long)b * r + j % r] = v;
  }
}

// residual_rmsnorm_lora_bf16_e<E>: residual_rmsnorm_lora_bf16 for rows of D ≤ E·THREADS, in one
// pass. Each thread loads all of its E elements of x (+ y), w and the block's adapter rows at once
// and keeps them in registers, so the block waits for one load round trip where the general
// kernel waits for one per LORA_CHUNK elements in each of its two passes (and reads x and y twice).
// A thread takes the same elements in the same order (i = t + THREADS·e, e ascending), so xo, out
// and u are the general kernel's bits. The decoder's rows: 1,536 (E = 8), 3,072 (12), 4,096 (16),
// 5,120 (20). ResidualRMSNormLoRA takes the smallest form that holds the row (GOMLXGRPO_NORM=chunked:
// the general kernel); H100 round 57: 8B batch-8 decode step 6.37 against 6.58 ms.
template <int E>
__device__ __forceinline__ void rmsnorm_lora_regs(const unsigned short* __restrict__ x, const float* __restrict__ y,
                                                  const unsigned short* __restrict__ w, unsigned short* __restrict__ xo,
                                                  unsigned short* __restrict__ out, int D, float eps,
                                                  const float* __restrict__ A0, const float* __restrict__ A1,
                                                  const float* __restrict__ A2, float* __restrict__ u0, float* __restrict__ u1,
                                                  float* __restrict__ u2, int r, int n, int per) {
  pdl_start();
  __shared__ float red[LORA_PER][THREADS / 32];
  const int b = blockIdx.x, c = blockIdx.y;
  const unsigned short* row = x + (long long)b * D;
  const float* yrow = y != nullptr ? y + (long long)b * D : nullptr;
  const int j0 = c * per, nj = min(per, n * r - j0);
  const float* A[LORA_PER];
#pragma unroll
  for (int k = 0; k < LORA_PER; k++) {
    const int j = min(j0 + k, n * r - 1), m = j / r;
    A[k] = (m == 0 ? A0 : m == 1 ? A1 : A2) + (long long)(j % r) * D;
  }
  unsigned short sv[E], wv[E];
  float av[LORA_PER][E];
#pragma unroll
  for (int e = 0; e < E; e++) {
    const int i = threadIdx.x + THREADS * e;
    const bool in = i < D;
    sv[e] = in ? norm_in(row, yrow, i) : 0;
    wv[e] = in ? w[i] : 0;
#pragma unroll
    for (int k = 0; k < LORA_PER; k++) av[k][e] = in && k < nj ? A[k][i] : 0.f;
  }
  float ss = 0.f;
#pragma unroll
  for (int e = 0; e < E; e++) {
    const float v = bf16_to_f32(sv[e]);
    if (threadIdx.x + THREADS * e < D) ss += v * v;
  }
  const float inv = row_inv_rms(ss, D, eps);
  float acc[LORA_PER] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int e = 0; e < E; e++) {
    const int i = threadIdx.x + THREADS * e;
    if (i >= D) continue;
    const unsigned short h = f32_to_bf16(bf16_to_f32(wv[e]) * bf16_to_f32(f32_to_bf16(bf16_to_f32(sv[e]) * inv)));
    if (c == 0) {
      if (yrow != nullptr) xo[(long long)b * D + i] = sv[e];
      out[(long long)b * D + i] = h;
    }
    const float hv = bf16_to_f32(h);
#pragma unroll
    for (int k = 0; k < LORA_PER; k++) acc[k] += hv * av[k][e];
  }
  const float v = block_sum_outputs(acc, red);
  if (threadIdx.x < nj) {
    const int j = j0 + threadIdx.x, m = j / r;
    (m == 0 ? u0 : m == 1 ? u1 : u2)[(long long)b * r + j % r] = v;
  }
}

#define RMSNORM_LORA_REGS(E)                                                                                            \
  extern "C" __global__ void __launch_bounds__(THREADS) residual_rmsnorm_lora_bf16_e##E(                              \
      const unsigned short* __restrict__ x, const float* __restrict__ y, const unsigned short* __restrict__ w,         \
      unsigned short* __restrict__ xo, unsigned short* __restrict__ out, int D, float eps, const float* __restrict__ A0, \
      const float* __restrict__ A1, const float* __restrict__ A2, float* __restrict__ u0, float* __restrict__ u1,       \
      float* __restrict__ u2, int r, int n, int per) {                                                                 \
    rmsnorm_lora_regs<E>(x, y, w, xo, out, D, eps, A0, A1, A2, u0, u1, u2, r, n, per);                               \
  }
RMSNORM_LORA_REGS(4)
RMSNORM_LORA_REGS(8)
RMSNORM_LORA_REGS(12)
RMSNORM_LORA_REGS(16)
RMSNORM_LORA_REGS(20)
RMSNORM_LORA_REGS(24)
