// Decode matmul on NF4 weights with the LoRA update fused into the same pass:
//
//   y[b,o] = Σ_i x[b,i] · NF4[code(o,i)] · absmax[(o·in + i) / 64]  + bias[o] +  scale · Σ_j u[b,j] · lora_b[o,j]
//
// W is [out, in] row-major in bitsandbytes' NF4 layout (gomlxgrpo/quant/nf4.go), x [B, in] bfloat16
// bits, u = x·Aᵀ [B, r] float32 (the adapter's down-projection, tiny, computed before), lora_b
// [out, r] float32, bias [out] bfloat16 bits or null, y [B, out] float32. The 4-bit weights are read
// once per launch row of MAXB rows of x (gemv.cuh: R output rows per warp, MAXB rows of x).
// Each lane takes 32 weights (16 bytes) of each of its R rows per step, all R loads issued before
// the arithmetic; rows whose length is not a multiple of 32 (tiny test models) take a 4-byte loop,
// which also covers any tail. Requires in % 8 == 0. Reference: the GoMLX path
// (quant.DequantizeGraph then Dot, plus lora.Apply).
//
// Double quantization (absmax == null): absmax[k] = code2[absmax_q[k]] · absmax2[k / 256] + offset,
// bitsandbytes' compress_statistics layout (gomlxgrpo/quant/doublequant.go).

#include "gemv.cuh"

// nf4_weights8 dequantizes the 8 codes of one 32-bit word (bnb's order: high nibble first).
__device__ __forceinline__ void nf4_weights8(const float* lut, unsigned int word, float s, float (&wv)[8]) {
#pragma unroll
  for (int j = 0; j < 4; j++) {
    nf4_byte(lut, (word >> (8 * j)) & 0xff, s, wv[2 * j], wv[2 * j + 1]);
  }
}

template <int MAXB, int R>
__device__ __forceinline__ void nf4_gemv(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                         const unsigned char* __restrict__ absmax_q, const float* __restrict__ code2,
                                         const float* __restrict__ absmax2, float offset,
                                         const unsigned short* __restrict__ x, float* __restrict__ y, int B, int in,
                                         int out, const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                         const float* __restrict__ lora_b, int r, float scale) {
  __shared__ float lut[16];
  load_nf4_lut(lut);
  GemvTile<MAXB, R> tile(B);
  if (tile.idle(out)) return;
  const int lane = tile.lane, o0 = tile.o0, b0 = tile.b0, nb = tile.nb;
  auto& acc = tile.acc;

  const int words = in / 8;                     // 32-bit words in one row of W
  const int vecs = in % 32 == 0 ? in / 32 : 0;  // 16-byte vectors in one row
  // One row per warp (R = 1): the next step's load goes out before this step's arithmetic; with R
  // rows the R loads of a step are in flight together instead.
  const uint4* row0 = reinterpret_cast<const uint4*>(packed + (long long)o0 * words);
  uint4 next = R == 1 && lane < vecs ? row0[lane] : uint4{0u, 0u, 0u, 0u};
  for (int v = lane; v < vecs; v += 32) {
    uint4 wq[R];
    float s[R];
    if (R == 1) {
      wq[0] = next;
      next = v + 32 < vecs ? row0[v + 32] : next;
    }
#pragma unroll
    for (int q = 0; q < R; q++) {
      const int o = min(o0 + q, out - 1);  // rows past the end repeat the last (never written)
      if (R > 1) wq[q] = reinterpret_cast<const uint4*>(packed + (long long)o * words)[v];
      s[q] = nf4_scale(absmax, absmax_q, code2, absmax2, offset, ((long long)o * in + (long long)v * 32) / 64);
    }
#pragma unroll
    for (int k = 0; k < 4; k++) {
      float wv[R][8];
#pragma unroll
      for (int q = 0; q < R; q++) {
        const unsigned int word = k == 0 ? wq[q].x : k == 1 ? wq[q].y : k == 2 ? wq[q].z : wq[q].w;
        nf4_weights8(lut, word, s[q], wv[q]);
      }
      gemv_accumulate<MAXB, R>(acc, wv, x, b0, nb, in, v * 4 + k);
    }
  }
  for (int w = 4 * vecs + lane; w < words; w += 32) {
    float wv[R][8];
#pragma unroll
    for (int q = 0; q < R; q++) {
      const int o = min(o0 + q, out - 1);
      const float sc = nf4_scale(absmax, absmax_q, code2, absmax2, offset, ((long long)o * in + (long long)w * 8) / 64);
      nf4_weights8(lut, packed[(long long)o * words + w], sc, wv[q]);
    }
    gemv_accumulate<MAXB, R>(acc, wv, x, b0, nb, in, w);
  }
  gemv_finish<MAXB, R>(acc, lane, o0, b0, nb, out, y, bias, u, lora_b, r, scale);
}

#define NF4_GEMV_ARGS                                                                                            \
  const unsigned int *__restrict__ packed, const float *__restrict__ absmax, const unsigned char *__restrict__ absmax_q, \
      const float *__restrict__ code2, const float *__restrict__ absmax2, float offset,                                  \
      const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, int out,                               \
      const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, int r,     \
      float scale
#define NF4_GEMV_CALL packed, absmax, absmax_q, code2, absmax2, offset, x, y, B, in, out, bias, u, lora_b, r, scale

extern "C" __global__ void __launch_bounds__(128) nf4_gemv_lora(NF4_GEMV_ARGS) { pdl_start(); nf4_gemv<32, 1>(NF4_GEMV_CALL); }
extern "C" __global__ void __launch_bounds__(128) nf4_gemv_lora_b8(NF4_GEMV_ARGS) { pdl_start(); nf4_gemv<8, 1>(NF4_GEMV_CALL); }
extern "C" __global__ void __launch_bounds__(128, 4) nf4_gemv_lora_b8r4(NF4_GEMV_ARGS) { pdl_start(); nf4_gemv<8, 4>(NF4_GEMV_CALL); }
