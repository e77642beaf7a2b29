// Matmul on NF4 weights on tensor cores, for decode batches (a few to 64 rows of x), with the bias
// and the LoRA update fused:
//
//   y[b,o] = Σ_i x[b,i] · bf16(NF4[code(o,i)] · absmax[(o·in + i) / 64])  + bias[o] + scale · Σ_j u[b,j] · lora_b[o,j]
//
// The same arguments and layouts as nf4_gemv_lora (nf4_gemv.cu), with in % 64 == 0. Each block
// computes 16 output rows for 8·NT rows of x: its 4 warps split the inputs (64 at a time, one NF4
// block) and add their partial sums through shared memory at the end. Per 64 inputs a lane reads
// 8 bytes of codes from each of its two rows (rows g and g+8; lanes t = 0..3 of a group read 32
// contiguous bytes), dequantizes them to bfloat16 once, and feeds them as the A operand of
// mma m16n8k16 for every n-tile of 8 rows of x. The 16 inputs of an mma step are a permutation of
// the chunk's: lane t contributes its inputs 16t + 4s … 16t + 4s + 3 at step s, as
// A[·][2t, 2t+1, 2t+8, 2t+9]; B takes the same inputs of x (adjacent in memory), so the sum is
// unchanged. The CUDA-core GEMV spends most of its instructions on the B·weights multiply-adds
// (and re-reads x for every output row); here they are one mma per 16 × 16 × 8.
//
// Weights are rounded to bfloat16 before the multiply, as the GoMLX path's dequantize-then-Dot
// does (quant.DequantizeGraph).

#include "mma.cuh"

// bf16x2 packs two floats as bfloat16 (lo in the low half).
__device__ __forceinline__ unsigned int bf16x2(float lo, float hi) {
  return (unsigned int)f32_to_bf16(lo) | ((unsigned int)f32_to_bf16(hi) << 16);
}

// byte_pair dequantizes one byte of codes (high nibble first, bnb's order) to a bfloat16 pair.
__device__ __forceinline__ unsigned int byte_pair(const float* lut, unsigned int byte, float s) {
  float w0, w1;
  nf4_byte(lut, byte, s, w0, w1);
  return bf16x2(w0, w1);
}

template <int NT>
__device__ __forceinline__ void nf4_mma(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                        const unsigned char* __restrict__ absmax_q, const float* __restrict__ code2,
                                        const float* __restrict__ absmax2, float offset,
                                        const unsigned short* __restrict__ x, float* __restrict__ y, int B, int in,
                                        int out, const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                        const float* __restrict__ lora_b, int r, float scale) {
  __shared__ float lut[16];
  __shared__ float part[MMA_WARPS - 1][32][NT * 4];
  load_nf4_lut(lut);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int o0 = blockIdx.x * 16, b0 = blockIdx.y * 8 * NT;
  const int rowA = min(o0 + g, out - 1), rowB = min(o0 + g + 8, out - 1);  // rows past the end: never written
  const unsigned char* pa = reinterpret_cast<const unsigned char*>(packed) + (long long)rowA * (in / 2) + 8 * t;
  const unsigned char* pb = reinterpret_cast<const unsigned char*>(packed) + (long long)rowB * (in / 2) + 8 * t;
  float c[NT][4];
#pragma unroll
  for (int n = 0; n < NT; n++)
#pragma unroll
    for (int i = 0; i < 4; i++) c[n][i] = 0.f;

  for (int k0 = warp * 64; k0 < in; k0 += MMA_WARPS * 64) {
    const uint2 wa = *reinterpret_cast<const uint2*>(pa + k0 / 2);  // row g: inputs k0+16t … k0+16t+15
    const uint2 wb = *reinterpret_cast<const uint2*>(pb + k0 / 2);  // row g+8
    const float sa = nf4_scale(absmax, absmax_q, code2, absmax2, offset, ((long long)rowA * in + k0) / 64);
    const float sb = nf4_scale(absmax, absmax_q, code2, absmax2, offset, ((long long)rowB * in + k0) / 64);
    uint4 xv[NT][2];
    mma_load_x<NT>(xv, x, b0, B, in, k0, g, t);
#pragma unroll
    for (int s = 0; s < 4; s++) {
      // Bytes 2s and 2s+1 of each row's 8 hold inputs 16t+4s … 16t+4s+3.
      const unsigned int wA = s < 2 ? wa.x : wa.y, wB = s < 2 ? wb.x : wb.y;
      const int sh = 16 * (s & 1);
      const unsigned int a[4] = {byte_pair(lut, (wA >> sh) & 0xff, sa), byte_pair(lut, (wB >> sh) & 0xff, sb),
                                 byte_pair(lut, (wA >> (sh + 8)) & 0xff, sa),
                                 byte_pair(lut, (wB >> (sh + 8)) & 0xff, sb)};
      mma_tiles<NT>(c, a, xv, s);
    }
  }
  mma_finish<NT>(c, &part[0][0][0], warp, lane, o0, b0, B, out, y, bias, u, lora_b, r, scale);
}

#define NF4_MMA_ARGS                                                                                             \
  const unsigned int *__restrict__ packed, const float *__restrict__ absmax, const unsigned char *__restrict__ absmax_q, \
      const float *__restrict__ code2, const float *__restrict__ absmax2, float offset,                                  \
      const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, int out,                               \
      const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, int r,     \
      float scale
#define NF4_MMA_CALL packed, absmax, absmax_q, code2, absmax2, offset, x, y, B, in, out, bias, u, lora_b, r, scale

extern "C" __global__ void __launch_bounds__(128) nf4_mma_n8(NF4_MMA_ARGS) { nf4_mma<1>(NF4_MMA_CALL); }
extern "C" __global__ void __launch_bounds__(128) nf4_mma_n64(NF4_MMA_ARGS) { nf4_mma<8>(NF4_MMA_CALL); }
