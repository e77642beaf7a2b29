// The parts shared by the decode matmuls (gemv_bf16.cu, nf4_gemv.cu):
//
//   y[b,o] = Σ_i x[b,i]·W[o,i] + bias[o] + scale · Σ_j u[b,j]·lora_b[o,j]      (y float32)
//
// x [B, in] bfloat16 bits (in % 8 == 0, so 8 inputs are one aligned 16-byte load), bias [out]
// bfloat16 bits or null, u [B, r] and lora_b [out, r] float32 or null.
//
// A warp computes R consecutive output rows for up to MAXB rows of x (blockIdx.y picks which MAXB
// rows); lanes split the inputs. Both are template parameters, each kernel coming as <32, 1> (weights
// read once per 32 rows of x), <8, 1> ("_b8") and <8, 4> ("_b8r4", for matrices with enough output
// rows that a quarter as many warps still fill the card: at batch 8 on an H200, R = 4 everywhere
// made the 1.5B-shape decode step slower, its 256-row k/v projections running on 16 blocks). The decode matmul is
// bound by re-reading the activations, not the weights: every 8 weights of a row need the 8 matching
// inputs of each batch row, so one warp per output row read 4·B bytes of x per byte of NF4 weights
// from L1 (measured: 217 GB/s of weights on an H200 at 8 rows). R rows per warp use each loaded input
// R times, cutting that ratio by R; 4 keeps the accumulators and weights within ~100 registers.
#pragma once

#include "common.cuh"

// GemvTile is a warp's share of a decode matmul: output rows o0 … o0+R−1 (4 warps per block along
// blockIdx.x, as gomlxgrpo/cuda's gemvKernel launches them) and rows b0 … b0+nb−1 of x (blockIdx.y
// picks which MAXB), with its accumulators zeroed.
template <int MAXB, int R>
struct GemvTile {
  int lane, o0, b0, nb;
  float acc[R][MAXB];
  __device__ __forceinline__ explicit GemvTile(int B)
      : lane(threadIdx.x & 31),
        o0((blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32) * R),
        b0(blockIdx.y * MAXB),
        nb(min(MAXB, B - b0)) {
#pragma unroll
    for (int q = 0; q < R; q++)
#pragma unroll
      for (int b = 0; b < MAXB; b++) acc[q][b] = 0.f;
  }
  // idle: the warp has no output row or no row of x (it returns before any shuffle).
  __device__ __forceinline__ bool idle(int out) const { return o0 >= out || nb <= 0; }
};

// gemv_unpack8 turns one 16-byte vector of 8 bfloat16 values into floats.
__device__ __forceinline__ void gemv_unpack8(uint4 v, float (&f)[8]) {
  const unsigned int s[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int k = 0; k < 4; k++) {
    f[2 * k] = bf16_to_f32((unsigned short)(s[k] & 0xffff));
    f[2 * k + 1] = bf16_to_f32((unsigned short)(s[k] >> 16));
  }
}

// gemv_accumulate adds, for each of the R output rows, the 8 weights wv[r] (inputs w8·8 … w8·8+7)
// times rows b0 … b0+nb−1 of x into acc[r][b]; each input vector is loaded once for all R rows.
template <int MAXB, int R>
__device__ __forceinline__ void gemv_accumulate(float (&acc)[R][MAXB], const float (&wv)[R][8],
                                                const unsigned short* __restrict__ x, int b0, int nb, int in,
                                                int w8) {
#pragma unroll
  for (int b = 0; b < MAXB; b++) {
    if (b < nb) {
      float xf[8];
      gemv_unpack8(*reinterpret_cast<const uint4*>(x + (long long)(b0 + b) * in + (long long)w8 * 8), xf);
#pragma unroll
      for (int r = 0; r < R; r++)
#pragma unroll
        for (int j = 0; j < 8; j++) acc[r][b] += wv[r][j] * xf[j];
    }
  }
}

// gemv_finish sums acc over the warp; for each output row o0+r < out, lane b writes y[b0+b, o0+r]
// with the bias and LoRA terms.
template <int MAXB, int R>
__device__ __forceinline__ void gemv_finish(float (&acc)[R][MAXB], int lane, int o0, int b0, int nb, int out,
                                            float* __restrict__ y, const unsigned short* __restrict__ bias,
                                            const float* __restrict__ u, const float* __restrict__ lora_b, int r,
                                            float scale) {
#pragma unroll
  for (int q = 0; q < R; q++) {
    const int o = o0 + q;
    if (o >= out) break;  // warp-uniform
#pragma unroll
    for (int b = 0; b < MAXB; b++) {
      if (b < nb)  // warp-uniform
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) acc[q][b] += __shfl_xor_sync(0xffffffff, acc[q][b], off);
    }
    if (lane < nb) {
      // Lane b writes row b (a compile-time-indexed select keeps acc in registers).
      float v = 0.f;
#pragma unroll
      for (int b = 0; b < MAXB; b++)
        if (b == lane) v = acc[q][b];
      if (bias != nullptr) v += bf16_to_f32(bias[o]);
      if (u != nullptr) {
        float l = 0.f;
        for (int j = 0; j < r; j++) l += u[(long long)(b0 + lane) * r + j] * lora_b[(long long)o * r + j];
        v += scale * l;
      }
      y[(long long)(b0 + lane) * out + o] = v;
    }
  }
}
