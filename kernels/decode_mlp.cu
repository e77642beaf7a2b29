// decode_mlp_n8: the MLP half of a decoder layer for up to 8 rows on NF4 weights, in one
// cooperative launch with one grid barrier: a first piece of a persistent decode step
// (bench/RESULTS.md, twenty-second session). Without LoRA for now.
//
//   xo = bf16(x + bf16(ya))     (ya null: xo = x)                                  [B, D] bf16
//   h  = bf16(wn · bf16(xo / √(mean_i xo² + ε)))                                   [B, D] bf16
//   g  = h · Wgᵀ,  u = h · Wuᵀ                                   phase 1           [B, F] float32
//   ——— grid_barrier ———
//   a  = bf16(bf16(g' · bf16(1/(1 + e^−g'))) · bf16(u)),  g' = bf16(g)           [B, F] bf16
//   y  = a · Wdᵀ                                                 phase 2           [B, D] float32
//
// The decoder runs these as four launches (residual_rmsnorm_bf16, nf4_mma_n8gw on gate/up,
// swiglu_bf16, nf4_mma_n8w on down), each waiting for the one before. Here:
// - every block computes all of h itself into shared memory (8 rows of D: a few KiB read from L2
//   per block), so the norm needs no barrier; xo and h are residual_rmsnorm_bf16's bits (its sums
//   of squares are added in that kernel's 256-thread order). Block 0 writes xo (and h if asked);
// - phase 1 gives each warp whole tiles of 16 rows of Wg or Wu over all of D (no split-K);
// - before the barrier each warp issues the loads of its first NF4_DEPTH chunks of Wd, which no
//   phase writes, so phase 2 starts with its weights on the way;
// - phase 2's blocks each take 4 tiles of 16 rows of Wd (64 outputs) and one of Z splits of F,
//   stage a for their split from g and u (the swiglu_bf16 formula, read from L2 after the
//   barrier), and finish split-K as nf4_mma_n8w does (the last split adds the Z partials in
//   order). The blocks of group 0 also write their a to act (if not null), for tests.
//
// Shapes: B ≤ 8, D and F multiples of 64. Dynamic shared memory 8 · stride · 16 bytes, stride =
// 16 · max(⌈D/128⌉, ⌈⌈F/128⌉/Z⌉) + 1 (uint4 per staged row). ws: [⌈D/64⌉·4][Z][4][32] float32,
// cnt: [⌈D/64⌉·4] uint32 (zero, left zero), bar: two uint32 (grid_barrier.cuh). Launch: a
// cooperative grid of 128-thread blocks (gomlxgrpo/cuda DecodeMLP).
#include "grid_barrier.cuh"
#include "nf4_tile.cuh"

// MLPMat is one NF4 matrix's arguments (nf4_gemv_lora's layout: packed [out, in/2] codes, one
// scale per 64 weights, absmax or its double quantization).
#define MLP_MAT_PARAMS(m)                                                                                        \
  const unsigned int *__restrict__ packed##m, const float *__restrict__ absmax##m,                               \
      const unsigned char *__restrict__ absmax_q##m, const float *__restrict__ code2##m,                         \
      const float *__restrict__ absmax2##m, float offset##m

struct MLPMat {
  const unsigned int* packed;
  const float* absmax;
  const unsigned char* absmax_q;
  const float* code2;
  const float* absmax2;
  float offset;
};

// MLPTile is a lane's rows of one warp tile (rows o0+g and o0+g+8, clamped to the matrix).
struct MLPTile {
  const unsigned char *pa, *pb;
  long long blkA, blkB;
};

__device__ __forceinline__ MLPTile mlp_tile(const MLPMat& m, int o0, int out, int in, int g) {
  const int rowA = min(o0 + g, out - 1), rowB = min(o0 + g + 8, out - 1);  // rows past the end: never written
  MLPTile t;
  t.pa = reinterpret_cast<const unsigned char*>(m.packed) + (long long)rowA * (in / 2);
  t.pb = reinterpret_cast<const unsigned char*>(m.packed) + (long long)rowB * (in / 2);
  t.blkA = (long long)rowA * (in / 64);
  t.blkB = (long long)rowB * (in / 64);
  return t;
}

// mlp_load issues the lane's loads of chunk begin + j (inputs 128·(begin+j) + 32t …).
__device__ __forceinline__ void mlp_load(NF4Rows& w, const MLPMat& m, const MLPTile& tl, int in, int begin, int j, int t) {
  nf4_rows_load(w, tl.pa, tl.pb, tl.blkA, tl.blkB, m.absmax, m.absmax_q, m.code2, m.absmax2, m.offset, in,
                128 * (begin + j) + 32 * t);
}

// mlp_prefetch issues the first NF4_DEPTH of the tile's mine chunks.
__device__ __forceinline__ void mlp_prefetch(NF4Rows (&w)[NF4_DEPTH], const MLPMat& m, const MLPTile& tl, int in,
                                             int begin, int mine, int t) {
#pragma unroll
  for (int d = 0; d < NF4_DEPTH; d++)
    if (d < mine) mlp_load(w[d], m, tl, in, begin, d, t);
}

// mlp_run multiplies the tile's mine chunks (the first NF4_DEPTH already in w) by the staged x
// (xs: [8][stride] uint4, chunk j at 16j), keeping NF4_DEPTH chunks' loads in flight: the main
// loop of nf4_mma_n8_tile (nf4_mma.cu).
__device__ __forceinline__ void mlp_run(float (&c)[4], NF4Rows (&w)[NF4_DEPTH], const MLPMat& m, const MLPTile& tl,
                                        int in, int begin, int mine, const uint4* xs, int stride, int g, int t) {
  for (int j0 = 0; j0 < mine; j0 += NF4_DEPTH) {
#pragma unroll
    for (int d = 0; d < NF4_DEPTH; d++) {
      const int j = j0 + d;
      if (j >= mine) break;
      const uint4* xr = xs + g * stride + 16 * j + 4 * t;  // row g, the lane's 32 inputs
      const unsigned int sa = nf4_scale2(w[d].sa), sb = nf4_scale2(w[d].sb);
#pragma unroll
      for (int p = 0; p < 4; p++) {
        const uint4 xv = xr[p];
        const unsigned int wA = word(w[d].a, p), wB = word(w[d].b, p);
#pragma unroll
        for (int q = 0; q < 2; q++) {
          unsigned int a[4];
          nf4_a(wA, wB, 16 * q, sa, sb, a);
          const unsigned int b[2] = {q ? xv.z : xv.x, q ? xv.w : xv.y};
          mma_bf16_16816(c, a, b);
        }
      }
      if (j + NF4_DEPTH < mine) mlp_load(w[d], m, tl, in, begin, j + NF4_DEPTH, t);
    }
  }
}

// mlp_finish is mma_finish_warp (mma.cuh) for split z of Z given explicitly (a phase's split, not
// the grid's): partials to ws at warp tile `tile`, the last split to arrive adds them in the order
// z = 0 … Z−1 and writes y [B, out]. A copy rather than a shared helper: passing Z and z into
// mma_finish_warp changed the committed matmuls' code (ptxas).
__device__ __forceinline__ void mlp_finish(float (&c)[4], int lane, int tile, int Z, int z, int o0, int B, int out,
                                           float* __restrict__ y, float* ws, unsigned int* cnt) {
  if (Z > 1) {
    float* wt = ws + (long long)tile * Z * 32 * 4;
#pragma unroll
    for (int i = 0; i < 4; i++) wt[(z * 4 + i) * 32 + lane] = c[i];
    __syncwarp();
    unsigned int last = 0;
    if (lane == 0) last = atomic_add_acq_rel(&cnt[tile], 1u) == (unsigned int)(Z - 1);
    last = __shfl_sync(0xffffffffu, last, 0);
    if (!last) return;
    __syncwarp();
    float v[4] = {0.f, 0.f, 0.f, 0.f};
    for (int s = 0; s < Z; s++)
#pragma unroll
      for (int i = 0; i < 4; i++) v[i] += ld_cg(&wt[(s * 4 + i) * 32 + lane]);
#pragma unroll
    for (int i = 0; i < 4; i++) c[i] = v[i];
    if (lane == 0) cnt[tile] = 0;
  }
  float cc[1][4] = {{c[0], c[1], c[2], c[3]}};
  mma_store<1>(cc, lane, o0, 0, B, out, y, nullptr, nullptr, nullptr, 0, 0.f);
}

// mlp_residual is element i of xo: residual_rmsnorm_bf16's sum.
__device__ __forceinline__ unsigned short mlp_residual(const unsigned short* __restrict__ xr, const float* __restrict__ yr, int i) {
  return yr != nullptr ? f32_to_bf16(bf16_to_f32(xr[i]) + bf16_to_f32(f32_to_bf16(yr[i]))) : xr[i];
}

extern "C" __global__ void __launch_bounds__(128)
    decode_mlp_n8(const unsigned short* __restrict__ x, const float* __restrict__ ya, const unsigned short* __restrict__ wn,
                  float eps, unsigned short* __restrict__ xo, unsigned short* __restrict__ hout, MLP_MAT_PARAMS(g),
                  MLP_MAT_PARAMS(u), MLP_MAT_PARAMS(d), float* gy, float* uy, unsigned short* __restrict__ act,
                  float* __restrict__ y, int B, int D, int F, int Z, float* ws, unsigned int* cnt, unsigned int* bar) {
  pdl_start();
  __shared__ float red[8];
  DYNAMIC_SHARED(uint4, xs);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const MLPMat mg{packedg, absmaxg, absmax_qg, code2g, absmax2g, offsetg};
  const MLPMat mu{packedu, absmaxu, absmax_qu, code2u, absmax2u, offsetu};
  const MLPMat md{packedd, absmaxd, absmax_qd, code2d, absmax2d, offsetd};
  const int chunks1 = (D + 127) / 128, chunks2 = (F + 127) / 128, per2 = (chunks2 + Z - 1) / Z;
  const int stride = 16 * max(chunks1, per2) + 1;
  unsigned short* xh = reinterpret_cast<unsigned short*>(xs);  // row b of the staged x at 8·stride·b

  // h: every block, each row in residual_rmsnorm_bf16's order (virtual threads v and v + 128 of its
  // 256, their warps' sums, then the 8 warps' in order).
  for (int i = threadIdx.x; i < 8 * 8 * stride; i += blockDim.x) xh[i] = 0;
  __syncthreads();
  for (int b = 0; b < B; b++) {
    const unsigned short* xr = x + (long long)b * D;
    const float* yr = ya != nullptr ? ya + (long long)b * D : nullptr;
    float s0 = 0.f, s1 = 0.f;
    for (int i = threadIdx.x; i < D; i += 256) {
      const float v = bf16_to_f32(mlp_residual(xr, yr, i));
      s0 += v * v;
    }
    for (int i = threadIdx.x + 128; i < D; i += 256) {
      const float v = bf16_to_f32(mlp_residual(xr, yr, i));
      s1 += v * v;
    }
    for (int o = 16; o > 0; o >>= 1) {
      s0 += __shfl_xor_sync(0xffffffff, s0, o);
      s1 += __shfl_xor_sync(0xffffffff, s1, o);
    }
    if (lane == 0) red[warp] = s0, red[warp + 4] = s1;
    __syncthreads();
    if (threadIdx.x < 32) {
      float ss = threadIdx.x < 8 ? red[threadIdx.x] : 0.f;
      for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffff, ss, o);
      if (threadIdx.x == 0) red[0] = ss;
    }
    __syncthreads();
    const float inv = 1.f / sqrtf(red[0] / D + eps);
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
      const unsigned short s = mlp_residual(xr, yr, i);
      const unsigned short h = f32_to_bf16(bf16_to_f32(wn[i]) * bf16_to_f32(f32_to_bf16(bf16_to_f32(s) * inv)));
      xh[8 * stride * b + i] = h;
      if (blockIdx.x == 0) {
        if (yr != nullptr) xo[(long long)b * D + i] = s;
        if (hout != nullptr) hout[(long long)b * D + i] = h;
      }
    }
    __syncthreads();  // red is reused by the next row
  }

  // Phase 1: warp tiles of Wg, then of Wu, over all of D.
  const int tf = (F + 15) / 16, warps = gridDim.x * (blockDim.x / 32);
  for (int tile = blockIdx.x * (blockDim.x / 32) + warp; tile < 2 * tf; tile += warps) {
    const bool up = tile >= tf;
    const MLPMat& m = up ? mu : mg;
    const int o0 = 16 * (up ? tile - tf : tile);
    const MLPTile tl = mlp_tile(m, o0, F, D, g);
    NF4Rows w[NF4_DEPTH];
    mlp_prefetch(w, m, tl, D, 0, chunks1, t);
    float c[4] = {0.f, 0.f, 0.f, 0.f};
    mlp_run(c, w, m, tl, D, 0, chunks1, xs, stride, g, t);
    float cc[1][4] = {{c[0], c[1], c[2], c[3]}};
    mma_store<1>(cc, lane, o0, 0, B, F, up ? uy : gy, nullptr, nullptr, nullptr, 0, 0.f);
  }

  // Phase 2's first task: its weights' loads go out before the barrier.
  const int groups = (D + 63) / 64, tasks = groups * Z;
  int task = blockIdx.x;
  NF4Rows w[NF4_DEPTH];
  MLPTile tl{};
  int o0 = 0, z = 0, begin = 0, mine = 0;
  auto setup = [&] {
    const int grp = task / Z;
    z = task % Z;
    o0 = 16 * (4 * grp + warp);
    begin = z * per2;
    mine = max(0, min(chunks2, begin + per2) - begin);
    tl = mlp_tile(md, min(o0, D - 1), D, F, g);
    if (o0 < D) mlp_prefetch(w, md, tl, F, begin, mine, t);
  };
  if (task < tasks) setup();
  grid_barrier(bar);

  for (; task < tasks; task += gridDim.x) {
    if (task != (int)blockIdx.x) setup();
    __syncthreads();  // the previous task's (or phase 1's) reads of xs are done
    const int k0 = 128 * begin, n = 128 * mine;
    for (int e = threadIdx.x; e < 8 * n; e += blockDim.x) {
      const int b = e / n, k = k0 + (e - b * n);
      unsigned short a = 0;
      if (b < B && k < F) {
        const float gv = bf16_to_f32(f32_to_bf16(ld_cg(gy + (long long)b * F + k)));
        const float silu = bf16_to_f32(f32_to_bf16(gv * bf16_to_f32(f32_to_bf16(1.f / (1.f + expf(-gv))))));
        a = f32_to_bf16(silu * bf16_to_f32(f32_to_bf16(ld_cg(uy + (long long)b * F + k))));
        if (act != nullptr && task / Z == 0) act[(long long)b * F + k] = a;
      }
      xh[8 * stride * b + (e - b * n)] = a;
    }
    __syncthreads();
    if (o0 < D) {
      float c[4] = {0.f, 0.f, 0.f, 0.f};
      mlp_run(c, w, md, tl, F, begin, mine, xs, stride, g, t);
      mlp_finish(c, lane, o0 / 16, Z, z, o0, B, D, y, ws, cnt);
    }
  }
}
