// The parts shared by the decode matmuls (gemv_bf16.cu, nf4_gemv.cu): one warp per output row o,
// each lane holding 8 dequantized weights at a time, up to MAXB rows of x per launch row:
//
//   y[b,o] = Σ_i x[b,i]·W[o,i] + bias[o] + scale · Σ_j u[b,j]·lora_b[o,j]      (y float32)
//
// x [B, in] bfloat16 bits (in % 8 == 0, so 8 inputs are one aligned 16-byte load), bias [out]
// bfloat16 bits or null, u [B, r] and lora_b [out, r] float32 or null.
//
// MAXB, the rows of x per launch row, is a template parameter: each kernel comes as <32> (weights read
// once per 32 rows) and <8> (for batches of at most 8: a quarter of the accumulator registers, so
// more warps per SM to hide memory latency; at 32 the NF4 kernel needs 176 registers a thread).
#pragma once

#include "common.cuh"

// gemv_accumulate adds the 8 weights wv (inputs w·8 … w·8+7 of the row) times rows b0 … b0+nb−1
// of x into acc.
template <int MAXB>
__device__ __forceinline__ void gemv_accumulate(float (&acc)[MAXB], const float (&wv)[8],
                                                const unsigned short* __restrict__ x, int b0, int nb, int in,
                                                int w) {
#pragma unroll
  for (int b = 0; b < MAXB; b++) {
    if (b < nb) {
      const uint4 xv = *reinterpret_cast<const uint4*>(x + (long long)(b0 + b) * in + (long long)w * 8);
      const unsigned int xs[4] = {xv.x, xv.y, xv.z, xv.w};
#pragma unroll
      for (int k = 0; k < 4; k++) {
        acc[b] += wv[2 * k] * bf16_to_f32((unsigned short)(xs[k] & 0xffff));
        acc[b] += wv[2 * k + 1] * bf16_to_f32((unsigned short)(xs[k] >> 16));
      }
    }
  }
}

// gemv_finish sums acc over the warp and lets lane b write y[b0+b, o] with the bias and LoRA terms.
template <int MAXB>
__device__ __forceinline__ void gemv_finish(float (&acc)[MAXB], int lane, int o, int b0, int nb, int out,
                                            float* __restrict__ y, const unsigned short* __restrict__ bias,
                                            const float* __restrict__ u, const float* __restrict__ lora_b, int r,
                                            float scale) {
#pragma unroll
  for (int b = 0; b < MAXB; b++) {
    if (b < nb)  // warp-uniform
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) acc[b] += __shfl_xor_sync(0xffffffff, acc[b], off);
  }
  if (lane < nb) {
    // Lane b writes row b (a compile-time-indexed select keeps acc in registers).
    float v = 0.f;
#pragma unroll
    for (int b = 0; b < MAXB; b++)
      if (b == lane) v = acc[b];
    if (bias != nullptr) v += bf16_to_f32(bias[o]);
    if (u != nullptr) {
      float l = 0.f;
      for (int j = 0; j < r; j++) l += u[(long long)(b0 + lane) * r + j] * lora_b[(long long)o * r + j];
      v += scale * l;
    }
    y[(long long)(b0 + lane) * out + o] = v;
  }
}
