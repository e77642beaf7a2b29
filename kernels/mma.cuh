// The parts shared by the tensor-core matmuls (nf4_mma.cu, gemm_bf16_mma.cu): a block computes 16
// output rows for 8·NT rows of x, its MMA_WARPS warps taking turns over the chunks of the inputs
// (gridDim.z blocks split the chunks between them: split-K, below); a lane (g = lane/4,
// t = lane%4) feeds mma step s with the inputs of its own slice of the chunk, in an order that is a
// permutation of the chunk's inputs taken the same way for A and B (see nf4_mma.cu for why that is
// allowed).
//
// Split-K: with gridDim.z = Z > 1, block z of a tile takes chunks [z·⌈C/Z⌉, (z+1)·⌈C/Z⌉) of the C
// chunks, writes its partial sums to ws and counts itself done in cnt[tile]; the last block to
// finish adds the Z partials in the order z = 0 … Z−1 (so the result does not depend on which block
// ran last: runs reproduce) plus the bias and LoRA terms, writes y and resets cnt[tile] to 0 for the
// next launch. Small matrices (few tiles of 16 output rows, long inputs) thus still fill the card
// with blocks, and every block has its loads in flight at once.
#pragma once

#include "common.cuh"

#define MMA_WARPS 4

// mma_chunks returns this block's share [begin, end) of n chunks under split-K (blockIdx.z of gridDim.z).
__device__ __forceinline__ void mma_chunks(int n, int& begin, int& end) {
  const int per = (n + gridDim.z - 1) / gridDim.z;
  begin = blockIdx.z * per;
  end = min(n, begin + per);
}

// The 64-row forms (nf4_mma_s64, gemm_bf16_mma_s64) stage chunks of 64 inputs of 64 rows of x in
// a ring of S64_STAGES slots of shared memory, xs[S64_STAGES][64][S64_STRIDE / 8] (uint4: 8 bf16).
#define S64_STAGES 4
#define S64_STRIDE 72  // bf16 per staged row: 64 + 8 of padding, so a quarter-warp's 16-byte reads (rows g, g+1; t = 0…3) hit 32 distinct banks

// mma_stage64 copies chunk begin+j of x's rows b0 … b0+63 into slot j % S64_STAGES (zeros past B)
// with cp.async: thread i of the block's 128 copies 16-byte pieces i, i+128, i+256, i+384 (row
// p/8, inputs 8·(p%8) … +7). The caller commits the group.
__device__ __forceinline__ void mma_stage64(uint4 (*xs)[64][S64_STRIDE / 8], int j, const unsigned short* __restrict__ x,
                                            int b0, int B, int in, int begin) {
  const int slot = j % S64_STAGES;
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int p = threadIdx.x + 128 * k, row = p >> 3, v = p & 7;
    const bool ok = b0 + row < B;
    cp_async16(&xs[slot][row][v], ok ? x + (long long)(b0 + row) * in + 64 * (begin + j) + 8 * v : x, ok);
  }
}

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

// lora_up returns Σ_j ur[j]·br[j] over the adapter rank r: 4 at a time with 16-byte loads when
// r % 4 == 0 (the rows are then 16-byte aligned), unrolled so that several iterations' loads are in
// flight (one load pair per step, each waiting for the last, cost every matmul's last block ~r L2
// round trips).
__device__ __forceinline__ float lora_up(const float* __restrict__ ur, const float* __restrict__ br, int r) {
  float l = 0.f;
  if ((r & 3) == 0) {
#pragma unroll 4
    for (int j = 0; j < r; j += 4) {
      const float4 a = *reinterpret_cast<const float4*>(ur + j), b = *reinterpret_cast<const float4*>(br + j);
      l += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
    }
  } else {
    for (int j = 0; j < r; j++) l += ur[j] * br[j];
  }
  return l;
}

// mma_store writes a warp's finished tile (accumulators c in mma's C layout, rows o0 … o0+15 of
// the output and b0 … b0+8·NT−1 of x) to y with the bias and LoRA terms, for o < out and b < B.
//
// For NT > 1 with LoRA the outputs go one by one through a loop that is not unrolled (c copied to
// a local array first), and the unrolled loop holds only the bias: unrolled over 32 outputs, each
// with its own copy of lora_up, the 64-row epilogue was ~12,000 instructions of which a tile
// without LoRA ran ~950 scattered across them, and the warp that finishes a split-K tile then
// waited on instruction fetches (ncu on nf4_mma_s64, round 71: 23% of its stall samples, most of
// them "no instruction"). NT = 1 (the batch-8 forms: 4 outputs) keeps every output unrolled.
template <int NT>
__device__ __forceinline__ void mma_store(const float (&c)[NT][4], int lane, int o0, int b0, int B, int out,
                                          float* __restrict__ y, const unsigned short* __restrict__ bias,
                                          const float* __restrict__ u, const float* __restrict__ lora_b, int r,
                                          float scale) {
  const int g = lane >> 2, t = lane & 3;
  if (NT > 1 && u != nullptr) {
    float cv[4 * NT];
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
      for (int i = 0; i < 4; i++) cv[4 * n + i] = c[n][i];
#pragma unroll 1
    for (int k = 0; k < 4 * NT; k++) {
      const int n = k >> 2, i = k & 3;
      const int o = o0 + g + (i >= 2 ? 8 : 0), row = b0 + 8 * n + 2 * t + (i & 1);
      if (o >= out || row >= B) continue;
      float v = cv[k];
      if (bias != nullptr) v += bf16_to_f32(bias[o]);
      v += scale * lora_up(u + (long long)row * r, lora_b + (long long)o * r, r);
      y[(long long)row * out + o] = v;
    }
    return;
  }
#pragma unroll
  for (int n = 0; n < NT; n++)
#pragma unroll
    for (int i = 0; i < 4; i++) {
      float v = c[n][i];
      const int o = o0 + g + (i >= 2 ? 8 : 0), row = b0 + 8 * n + 2 * t + (i & 1);
      if (o >= out || row >= B) continue;
      if (bias != nullptr) v += bf16_to_f32(bias[o]);
      if (NT == 1 && u != nullptr) v += scale * lora_up(u + (long long)row * r, lora_b + (long long)o * r, r);
      y[(long long)row * out + o] = v;
    }
}

// mma_finish_warp finishes a warp's tile of 16 output rows (its accumulators hold the whole sum
// over the block's share of the inputs): under split-K (gridDim.z > 1) its partials go to ws
// [tiles][gridDim.z][4·NT][32] at warp tile `tile`, and the warp of the last block to finish adds
// them in the order z = 0 … Z−1 and writes y. Every lane of the warp must call it.
template <int NT>
__device__ __forceinline__ void mma_finish_warp(float (&c)[NT][4], int lane, long long tile, int o0, int b0, int B,
                                                int out, float* __restrict__ y, const unsigned short* __restrict__ bias,
                                                const float* __restrict__ u, const float* __restrict__ lora_b, int r,
                                                float scale, float* ws, unsigned int* cnt) {
  const int Z = gridDim.z;
  if (Z > 1) {
    // Layout [tile][z][4·NT][32]: lane fastest, so each store and load instruction of the warp
    // covers 128 contiguous bytes (the previous [z][32][4·NT] put the lanes 16·NT bytes apart:
    // 32 sectors per instruction, and the 64-row form spent ~80% of its time here: ncu, bench/RESULTS.md).
    float* wt = ws + tile * Z * 32 * 4 * NT;
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
      for (int i = 0; i < 4; i++) wt[((int)blockIdx.z * 4 * NT + 4 * n + i) * 32 + lane] = c[n][i];
    // Release and acquire instead of two sequentially consistent fences (membar.gl: MEMBAR.SC.GPU
    // and an L1 invalidation each): __syncwarp orders the lanes' partials before lane 0's
    // acq_rel add (release, cumulative), and its acquire before the lanes' loads (CUTLASS's
    // split-K semaphore does the same with __syncthreads).
    __syncwarp();
    unsigned int last = 0;
    if (lane == 0) last = atomic_add_acq_rel(&cnt[tile], 1u) == (unsigned int)(Z - 1);
    last = __shfl_sync(0xffffffffu, last, 0);
    if (!last) return;
    __syncwarp();
    // The partials, from L2 (ld_cg: other blocks wrote them), added in the order z = 0 … Z−1.
    // ZU splits' loads go out together, all 4·NT of each: looping over z inside each accumulator
    // instead issued one L2 round trip per accumulator per 4 splits (the compiler's unroll), 4 to
    // 16 in a row at the end of every batch-8 launch (ncu, tenth session: ~20% of the 8B gate/up
    // launch's stall samples were in this finish). Now ⌈Z/ZU⌉.
    constexpr int ZU = NT == 1 ? 8 : 2;
    float v[NT][4];
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
      for (int i = 0; i < 4; i++) v[n][i] = 0.f;
    for (int z = 0; z < Z; z += ZU) {
      float p[ZU][NT][4];
#pragma unroll
      for (int k = 0; k < ZU; k++)
#pragma unroll
        for (int n = 0; n < NT; n++)
#pragma unroll
          for (int i = 0; i < 4; i++) p[k][n][i] = z + k < Z ? ld_cg(&wt[((z + k) * 4 * NT + 4 * n + i) * 32 + lane]) : 0.f;
#pragma unroll
      for (int k = 0; k < ZU; k++)
#pragma unroll
        for (int n = 0; n < NT; n++)
#pragma unroll
          for (int i = 0; i < 4; i++)
            if (z + k < Z) v[n][i] += p[k][n][i];
    }
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
      for (int i = 0; i < 4; i++) c[n][i] = v[n][i];
    if (lane == 0) cnt[tile] = 0;
  }
  mma_store<NT>(c, lane, o0, b0, B, out, y, bias, u, lora_b, r, scale);
}

// mma_finish adds the warps' partial sums (part: shared [MMA_WARPS-1][4·NT][32], lane fastest) into warp 0,
// which then finishes the block's tile as mma_finish_warp does (tile index blockIdx.y·gridDim.x +
// blockIdx.x; split-K scratch unused when gridDim.z = 1) and writes y[b, o] with the bias and
// LoRA terms for rows o < out and b < B. Every thread of the block must call it.
template <int NT>
__device__ __forceinline__ void mma_finish(float (&c)[NT][4], float* part, int warp, int lane, int o0, int b0,
                                           int B, int out, float* __restrict__ y,
                                           const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                           const float* __restrict__ lora_b, int r, float scale, float* ws,
                                           unsigned int* cnt) {
  if (warp > 0) {
#pragma unroll
    for (int n = 0; n < NT; n++)
#pragma unroll
      for (int i = 0; i < 4; i++) part[((warp - 1) * 4 * NT + 4 * n + i) * 32 + lane] = c[n][i];  // lane fastest: no bank conflicts
  }
  __syncthreads();
  if (warp > 0) return;
#pragma unroll
  for (int n = 0; n < NT; n++)
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int w = 0; w < MMA_WARPS - 1; w++) c[n][i] += part[(w * 4 * NT + 4 * n + i) * 32 + lane];
  const long long tile = (long long)blockIdx.y * gridDim.x + blockIdx.x;
  mma_finish_warp<NT>(c, lane, tile, o0, b0, B, out, y, bias, u, lora_b, r, scale, ws, cnt);
}

