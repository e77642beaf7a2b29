// Matmul on bfloat16 weights on tensor cores (the LM head and unquantized projections at decode
// batches), the bfloat16 twin of nf4_mma.cu with the bias and LoRA terms fused:
//
//   y[b,o] = Σ_i x[b,i]·W[o,i] + bias[o] + scale · Σ_j u[b,j]·lora_b[o,j]      (y float32)
//
// The arguments and layouts of gemv_bf16_lora (gemv_bf16.cu), with in % 64 == 0, plus split-K's
// scratch (ws, cnt: mma.cuh). Up to 8 rows of x (gemm_bf16_mma_n8): 16 output rows × 8 rows of x
// per block, its 4 warps taking turns over chunks of 64 inputs; lane t of group g reads inputs
// 16t … 16t+15 of rows g and g+8 (32 contiguous bytes each) and feeds inputs 16t+4s … 16t+4s+3 to
// mma step s, B taking the same inputs of x. More rows: gemm_bf16_mma_s64 (below).

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

// gemm_bf16_mma_s64 is the form for more than 8 rows of x: nf4_mma_s64's on bfloat16 weights. A
// block of 4 warps covers 64 output rows (a warp: its own 16, finished by itself under split-K)
// for 64 rows of x, staged through the ring of cp.async stages (mma_stage64), so x crosses L2 once
// per 64 output rows; each warp keeps BF16_S64_DEPTH chunks of its weights in flight in registers.
// A lane's inputs: k0+16t … k0+16t+15 of rows g and g+8 (32 bytes each), fed as in nf4_mma_s64.
//
// Why: the form it replaced (gemm_bf16_mma_n64, gemm_bf16_mma<8>) had each block of 16 output rows
// read all of its x from L2 into registers, 4 bytes of x per byte of weights: the Llama-3.2-3B LM
// head at 64 rows (128,256 × 3,072) took ~427 µs per step on an H200 (round 71's profile), 1.8 TB/s
// of weights; this form ~284 µs, and the 3B batch-64 decode step 5.52 → 5.43 ms (round 73, A/B in
// one process).
#define BF16_S64_DEPTH 2

struct BF16Rows {  // a lane's weights of one 64-input chunk: inputs 16t … 16t+15 of rows g (a) and g+8 (b)
  uint4 a[2], b[2];
};

__device__ __forceinline__ void gemm_bf16_mma_s64_tile(const unsigned short* __restrict__ W, const unsigned short* __restrict__ x,
                                                       float* __restrict__ y, int B, int in, int out,
                                                       const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                                       const float* __restrict__ lora_b, int r, float scale, float* ws,
                                                       unsigned int* cnt) {
  pdl_trigger();
  __shared__ uint4 xs[S64_STAGES][64][S64_STRIDE / 8];  // 8 bf16 per uint4
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int o0 = (blockIdx.x * MMA_WARPS + warp) * 16, b0 = blockIdx.y * 64;
  const int rowA = min(o0 + g, out - 1), rowB = min(o0 + g + 8, out - 1);  // rows past the end: never written
  const uint4* pa = reinterpret_cast<const uint4*>(W + (long long)rowA * in + 16 * t);
  const uint4* pb = reinterpret_cast<const uint4*>(W + (long long)rowB * in + 16 * t);
  int begin, end;
  mma_chunks(in / 64, begin, end);
  const int n = max(0, end - begin);  // the block's chunks (the last blocks of a split may have none)
  auto load_w = [&](BF16Rows& w, int chunk) {  // 8 uint4 per row per chunk of 64 inputs
    w.a[0] = pa[8 * chunk], w.a[1] = pa[8 * chunk + 1];
    w.b[0] = pb[8 * chunk], w.b[1] = pb[8 * chunk + 1];
  };
  auto stage = [&](int j) { mma_stage64(xs, j, x, b0, B, in, begin); };

  BF16Rows w[BF16_S64_DEPTH];
#pragma unroll
  for (int d = 0; d < BF16_S64_DEPTH; d++)
    if (d < n) load_w(w[d], begin + d);
  pdl_wait();  // x is the previous kernel's
#pragma unroll
  for (int j = 0; j < S64_STAGES - 1; j++) {
    if (j < n) stage(j);
    cp_async_commit();  // one group per stage, empty past the block's chunks: the count stays exact
  }

  float c[8][4];
#pragma unroll
  for (int k = 0; k < 8; k++)
#pragma unroll
    for (int i = 0; i < 4; i++) c[k][i] = 0.f;
  for (int j0 = 0; j0 < n; j0 += BF16_S64_DEPTH) {
#pragma unroll
    for (int d = 0; d < BF16_S64_DEPTH; d++) {
      const int j = j0 + d;
      if (j >= n) break;  // n is the block's: every thread leaves together
      // S64_STAGES−1 + j groups committed so far; at most S64_STAGES−2 in flight: chunk j's landed.
      cp_async_wait_group<S64_STAGES - 2>();
      __syncthreads();  // everyone's copies of chunk j; everyone done with chunk j−1's slot
      if (j + S64_STAGES - 1 < n) stage(j + S64_STAGES - 1);  // into chunk j−1's slot
      cp_async_commit();
      const int slot = j % S64_STAGES;
#pragma unroll
      for (int p = 0; p < 2; p++) {  // inputs 16t+8p … +7: word p of each row's weights
        uint4 xv[8];
#pragma unroll
        for (int k = 0; k < 8; k++) xv[k] = xs[slot][8 * k + g][2 * t + p];  // the same inputs of x's row 8k+g
        const uint4 va = w[d].a[p], vb = w[d].b[p];
#pragma unroll
        for (int q = 0; q < 2; q++) {  // inputs 16t+8p+4q … +3: words 2q and 2q+1
          const unsigned int a[4] = {q ? va.z : va.x, q ? vb.z : vb.x, q ? va.w : va.y, q ? vb.w : vb.y};
#pragma unroll
          for (int k = 0; k < 8; k++) {
            const unsigned int b[2] = {q ? xv[k].z : xv[k].x, q ? xv[k].w : xv[k].y};
            mma_bf16_16816(c[k], a, b);
          }
        }
      }
      if (j + BF16_S64_DEPTH < n) load_w(w[d], begin + j + BF16_S64_DEPTH);
    }
  }
  const long long tile = ((long long)blockIdx.y * gridDim.x + blockIdx.x) * MMA_WARPS + warp;
  mma_finish_warp<8>(c, lane, tile, o0, b0, B, out, y, bias, u, lora_b, r, scale, ws, cnt);
}

#define GEMM_BF16_ARGS                                                                                       \
  const unsigned short *__restrict__ W, const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, \
      int out, const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, \
      int r, float scale, float *ws, unsigned int *cnt
#define GEMM_BF16_CALL W, x, y, B, in, out, bias, u, lora_b, r, scale, ws, cnt

extern "C" __global__ void __launch_bounds__(128) gemm_bf16_mma_n8(GEMM_BF16_ARGS) { pdl_start(); gemm_bf16_mma<1>(GEMM_BF16_CALL); }
extern "C" __global__ void __launch_bounds__(128, 4) gemm_bf16_mma_s64(GEMM_BF16_ARGS) { gemm_bf16_mma_s64_tile(GEMM_BF16_CALL); }
