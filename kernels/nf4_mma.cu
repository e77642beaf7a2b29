// Matmul on NF4 weights on tensor cores, for decode batches (a few to 64 rows of x), with the bias
// and the LoRA update fused:
//
//   y[b,o] = Σ_i x[b,i] · bf16(NF4[code(o,i)] · absmax[(o·in + i) / 64])  + bias[o] + scale · Σ_j u[b,j] · lora_b[o,j]
//
// The arguments and layouts of nf4_gemv_lora (nf4_gemv.cu), with in % 64 == 0, plus split-K's
// scratch (ws, cnt: mma.cuh). Each block computes 16 output rows for 8·NT rows of x over chunks of
// 128 inputs, its 4 warps taking every 4th chunk of the block's share. Per chunk a lane reads 16
// bytes of codes (32 inputs: k0+32t … k0+32t+31, all in one NF4 block) from each of its two rows
// g and g+8 (lanes t = 0..3 of a group read 64 contiguous bytes) and their two scales, dequantizes
// them to bfloat16 once and feeds them as the A operand of 8 mma m16n8k16 steps for every n-tile of
// 8 rows of x. The 16 inputs of step s are a permutation of the chunk's: lane t contributes inputs
// 32t + 4s … 32t + 4s + 3 as A[·][2t, 2t+1, 2t+8, 2t+9]; B takes the same inputs of x (adjacent in
// memory), so the sum is unchanged. A warp loads its next chunk before computing the current one,
// so two chunks' reads are in flight per warp.
//
// A 64-input tail (in % 128 == 64) is the last chunk with lanes t = 2, 3 contributing zeros.
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

__device__ __forceinline__ unsigned int word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

// NF4Chunk is a lane's share of one chunk: the 16 code bytes of rows g (a) and g+8 (b), their
// scales, and (NT = 1 only, loaded with the weights) its 32 inputs of x row b0+g.
template <int NT>
struct NF4Chunk {
  uint4 a, b;
  float sa, sb;
  uint4 x[NT == 1 ? 4 : 1];
};

template <int NT>
__device__ __forceinline__ void nf4_chunk_load(NF4Chunk<NT>& c, const unsigned char* __restrict__ pa,
                                               const unsigned char* __restrict__ pb, long long blkA, long long blkB,
                                               const float* __restrict__ absmax, const unsigned char* __restrict__ absmax_q,
                                               const float* __restrict__ code2, const float* __restrict__ absmax2,
                                               float offset, const unsigned short* __restrict__ x, int b0, int B,
                                               int in, int k, int g) {
  if (k >= in) {  // the tail's missing half
    c.a = c.b = uint4{0u, 0u, 0u, 0u};
    c.sa = c.sb = 0.f;
    if constexpr (NT == 1)
      for (int j = 0; j < 4; j++) c.x[j] = uint4{0u, 0u, 0u, 0u};
    return;
  }
  c.a = *reinterpret_cast<const uint4*>(pa + k / 2);
  c.b = *reinterpret_cast<const uint4*>(pb + k / 2);
  c.sa = nf4_scale(absmax, absmax_q, code2, absmax2, offset, blkA + k / 64);
  c.sb = nf4_scale(absmax, absmax_q, code2, absmax2, offset, blkB + k / 64);
  if constexpr (NT == 1) {
    const int row = b0 + g;
    const uint4* xp = reinterpret_cast<const uint4*>(x + (long long)row * in + k);
#pragma unroll
    for (int j = 0; j < 4; j++) c.x[j] = row < B ? xp[j] : uint4{0u, 0u, 0u, 0u};
  }
}

template <int NT>
__device__ __forceinline__ void nf4_mma(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                        const unsigned char* __restrict__ absmax_q, const float* __restrict__ code2,
                                        const float* __restrict__ absmax2, float offset,
                                        const unsigned short* __restrict__ x, float* __restrict__ y, int B, int in,
                                        int out, const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                        const float* __restrict__ lora_b, int r, float scale, float* ws,
                                        unsigned int* cnt) {
  __shared__ float lut[16];
  __shared__ float part[MMA_WARPS - 1][32][NT * 4];
  load_nf4_lut(lut);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int o0 = blockIdx.x * 16, b0 = blockIdx.y * 8 * NT;
  const int rowA = min(o0 + g, out - 1), rowB = min(o0 + g + 8, out - 1);  // rows past the end: never written
  const unsigned char* pa = reinterpret_cast<const unsigned char*>(packed) + (long long)rowA * (in / 2);
  const unsigned char* pb = reinterpret_cast<const unsigned char*>(packed) + (long long)rowB * (in / 2);
  const long long blkA = (long long)rowA * (in / 64), blkB = (long long)rowB * (in / 64);
  float c[NT][4];
#pragma unroll
  for (int n = 0; n < NT; n++)
#pragma unroll
    for (int i = 0; i < 4; i++) c[n][i] = 0.f;

  int begin, end;
  mma_chunks((in + 127) / 128, begin, end);
  NF4Chunk<NT> cur, next;
  int ch = begin + warp;
  if (ch < end) nf4_chunk_load<NT>(cur, pa, pb, blkA, blkB, absmax, absmax_q, code2, absmax2, offset, x, b0, B, in, 128 * ch + 32 * t, g);
  for (; ch < end; ch += MMA_WARPS) {
    const int k = 128 * ch + 32 * t;  // this lane's first input of the chunk
    if (ch + MMA_WARPS < end)
      nf4_chunk_load<NT>(next, pa, pb, blkA, blkB, absmax, absmax_q, code2, absmax2, offset, x, b0, B, in, k + 128 * MMA_WARPS, g);
#pragma unroll
    for (int p = 0; p < 4; p++) {  // word p of the codes: steps 2p and 2p+1
      uint4 xv[NT];
      if constexpr (NT == 1) {
        xv[0] = cur.x[p];
      } else {
#pragma unroll
        for (int n = 0; n < NT; n++) {
          const int row = b0 + 8 * n + g;
          xv[n] = row < B && k < in ? reinterpret_cast<const uint4*>(x + (long long)row * in + k)[p] : uint4{0u, 0u, 0u, 0u};
        }
      }
      const unsigned int wA = word(cur.a, p), wB = word(cur.b, p);
#pragma unroll
      for (int q = 0; q < 2; q++) {
        // Bytes 2q and 2q+1 of word p hold inputs 32t+4s … 32t+4s+3 (s = 2p+q), as do words 2q and
        // 2q+1 of x's vector p.
        const int sh = 16 * q;
        const unsigned int a[4] = {byte_pair(lut, (wA >> sh) & 0xff, cur.sa), byte_pair(lut, (wB >> sh) & 0xff, cur.sb),
                                   byte_pair(lut, (wA >> (sh + 8)) & 0xff, cur.sa),
                                   byte_pair(lut, (wB >> (sh + 8)) & 0xff, cur.sb)};
#pragma unroll
        for (int n = 0; n < NT; n++) {
          const unsigned int b[2] = {q ? xv[n].z : xv[n].x, q ? xv[n].w : xv[n].y};
          mma_bf16_16816(c[n], a, b);
        }
      }
    }
    cur = next;
  }
  mma_finish<NT>(c, &part[0][0][0], warp, lane, o0, b0, B, out, y, bias, u, lora_b, r, scale, ws, cnt);
}

#define NF4_MMA_ARGS                                                                                             \
  const unsigned int *__restrict__ packed, const float *__restrict__ absmax, const unsigned char *__restrict__ absmax_q, \
      const float *__restrict__ code2, const float *__restrict__ absmax2, float offset,                                  \
      const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, int out,                               \
      const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, int r,     \
      float scale, float *ws, unsigned int *cnt
#define NF4_MMA_CALL packed, absmax, absmax_q, code2, absmax2, offset, x, y, B, in, out, bias, u, lora_b, r, scale, ws, cnt

extern "C" __global__ void __launch_bounds__(128) nf4_mma_n8(NF4_MMA_ARGS) { nf4_mma<1>(NF4_MMA_CALL); }
extern "C" __global__ void __launch_bounds__(128) nf4_mma_n64(NF4_MMA_ARGS) { nf4_mma<8>(NF4_MMA_CALL); }
