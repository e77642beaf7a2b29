// Matmul on bfloat16 weights on tensor cores (the LM head and unquantized projections at decode
// batches), the bfloat16 twin of nf4_mma.cu with the bias and LoRA terms fused:
//
//   y[b,o] = Σ_i x[b,i]·W[o,i] + bias[o] + scale · Σ_j u[b,j]·lora_b[o,j]      (y float32)
//
// The arguments and layouts of gemv_bf16_lora (gemv_bf16.cu), with in % 64 == 0, plus split-K's
// scratch (ws, cnt: mma.cuh). 16 output rows × 8·NT rows of x per block, its 4 warps taking turns
// over chunks of 64 inputs;
// lane t of group g reads inputs 16t … 16t+15 of rows g and g+8 (32 contiguous bytes each) and feeds
// inputs 16t+4s … 16t+4s+3 to mma step s, B taking the same inputs of x.

#include "mma.cuh"

template <int NT>
__device__ __forceinline__ void gemm_bf16_mma(const unsigned short* __restrict__ W, const unsigned short* __restrict__ x,
                                              float* __restrict__ y, int B, int in, int out,
                                              const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                              const float* __restrict__ lora_b, int r, float scale, float* ws,
                                              unsigned int* cnt) {
  __shared__ float part[MMA_WARPS - 1][32][NT * 4];
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int o0 = blockIdx.x * 16, b0 = blockIdx.y * 8 * NT;
  const int rowA = min(o0 + g, out - 1), rowB = min(o0 + g + 8, out - 1);  // rows past the end: never written
  const unsigned short* pa = W + (long long)rowA * in + 16 * t;
  const unsigned short* pb = W + (long long)rowB * in + 16 * t;
  float c[NT][4];
#pragma unroll
  for (int n = 0; n < NT; n++)
#pragma unroll
    for (int i = 0; i < 4; i++) c[n][i] = 0.f;

  int begin, end;
  mma_chunks(in / 64, begin, end);
  for (int k0 = (begin + warp) * 64; k0 < end * 64; k0 += MMA_WARPS * 64) {
    const uint4 wa0 = reinterpret_cast<const uint4*>(pa + k0)[0], wa1 = reinterpret_cast<const uint4*>(pa + k0)[1];
    const uint4 wb0 = reinterpret_cast<const uint4*>(pb + k0)[0], wb1 = reinterpret_cast<const uint4*>(pb + k0)[1];
    uint4 xv[NT][2];
    mma_load_x<NT>(xv, x, b0, B, in, k0, g, t);
#pragma unroll
    for (int s = 0; s < 4; s++) {
      // 32-bit words 2s and 2s+1 of a row's 8 hold inputs 16t+4s … 16t+4s+3.
      const uint4 va = s < 2 ? wa0 : wa1, vb = s < 2 ? wb0 : wb1;
      const bool odd = s & 1;
      const unsigned int a[4] = {odd ? va.z : va.x, odd ? vb.z : vb.x, odd ? va.w : va.y, odd ? vb.w : vb.y};
      mma_tiles<NT>(c, a, xv, s);
    }
  }
  mma_finish<NT>(c, &part[0][0][0], warp, lane, o0, b0, B, out, y, bias, u, lora_b, r, scale, ws, cnt);
}

#define GEMM_BF16_ARGS                                                                                       \
  const unsigned short *__restrict__ W, const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, \
      int out, const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, \
      int r, float scale, float *ws, unsigned int *cnt
#define GEMM_BF16_CALL W, x, y, B, in, out, bias, u, lora_b, r, scale, ws, cnt

extern "C" __global__ void __launch_bounds__(128) gemm_bf16_mma_n8(GEMM_BF16_ARGS) { pdl_start(); gemm_bf16_mma<1>(GEMM_BF16_CALL); }
extern "C" __global__ void __launch_bounds__(128) gemm_bf16_mma_n64(GEMM_BF16_ARGS) { pdl_start(); gemm_bf16_mma<8>(GEMM_BF16_CALL); }
