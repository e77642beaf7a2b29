// The parts shared by the tensor-core matmuls (nf4_mma.cu, gemm_bf16_mma.cu): a block computes 16
// output rows for 8·NT rows of x, its MMA_WARPS warps splitting the inputs 64 at a time; lane
// (g = lane/4, t = lane%4) holds inputs 16t … 16t+15 of each 64 and feeds inputs 16t+4s … 16t+4s+3 to
// mma step s (see nf4_mma.cu for why that permutation of the inputs is allowed).
#pragma once

#include "common.cuh"

#define MMA_WARPS 4

// mma_load_x loads x[b0+8n+g][k0+16t … k0+16t+15] for each n-tile n (zero past the batch B).
template <int NT>
__device__ __forceinline__ void mma_load_x(uint4 (&xv)[NT][2], const unsigned short* __restrict__ x, int b0, int B,
                                           int in, int k0, int g, int t) {
#pragma unroll
  for (int n = 0; n < NT; n++) {
    const int row = b0 + 8 * n + g;
    if (row < B) {
      const uint4* xp = reinterpret_cast<const uint4*>(x + (long long)row * in + k0 + 16 * t);
      xv[n][0] = xp[0];
      xv[n][1] = xp[1];
    } else {
      xv[n][0] = xv[n][1] = uint4{0u, 0u, 0u, 0u};
    }
  }
}

// mma_b returns the B fragment of step s from a lane's x vectors: its inputs 16t+4s … 16t+4s+3,
// words 2s and 2s+1 of the 8.
__device__ __forceinline__ void mma_b(const uint4 (&v2)[2], int s, unsigned int (&b)[2]) {
  const uint4 v = v2[s >> 1];
  b[0] = (s & 1) ? v.z : v.x;
  b[1] = (s & 1) ? v.w : v.y;
}

// mma_tiles runs mma step s for every n-tile: c[n] += A · (x tile n's inputs of step s).
template <int NT>
__device__ __forceinline__ void mma_tiles(float (&c)[NT][4], const unsigned int (&a)[4], const uint4 (&xv)[NT][2], int s) {
#pragma unroll
  for (int n = 0; n < NT; n++) {
    unsigned int b[2];
    mma_b(xv[n], s, b);
    mma_bf16_16816(c[n], a, b);
  }
}

// mma_finish adds the warps' partial sums (part: shared [MMA_WARPS-1][32][4·NT]) and lets warp 0
// write y[b, o] with the bias and LoRA terms for the block's rows o < out and b < B. Every thread of
// the block must call it.
template <int NT>
__device__ __forceinline__ void mma_finish(float (&c)[NT][4], float* part, int warp, int lane, int o0, int b0,
                                           int B, int out, float* __restrict__ y,
                                           const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                           const float* __restrict__ lora_b, int r, float scale) {
  if (warp > 0) {
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
      for (int i = 0; i < 4; i++) part[((warp - 1) * 32 + lane) * 4 * NT + 4 * n + i] = c[n][i];
  }
  __syncthreads();
  if (warp > 0) return;
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int n = 0; n < NT; n++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float v = c[n][i];
#pragma unroll
      for (int w = 0; w < MMA_WARPS - 1; w++) v += part[(w * 32 + lane) * 4 * NT + 4 * n + i];
      const int o = o0 + g + (i >= 2 ? 8 : 0), row = b0 + 8 * n + 2 * t + (i & 1);
      if (o >= out || row >= B) continue;
      if (bias != nullptr) v += bf16_to_f32(bias[o]);
      if (u != nullptr) {
        float l = 0.f;
        for (int j = 0; j < r; j++) l += u[(long long)row * r + j] * lora_b[(long long)o * r + j];
        v += scale * l;
      }
      y[(long long)row * out + o] = v;
    }
}
