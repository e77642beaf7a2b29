// decode_mlp_n8: the MLP half of a decoder layer for up to 8 rows on NF4 weights, in one
// cooperative launch with one grid barrier: a first piece of a persistent decode step
// (bench/RESULTS.md, twenty-second session), with or without LoRA adapters on its three
// projections (all three, of one rank r, or none: r = 0), optionally with the o projection before
// it (phase O) and the norm after it (phase 3).
//
//   ya = attn · Woᵀ + so · (attn · Aoᵀ) · Boᵀ   (attn not null)        phase O    [B, D] float32
//   ——— (attn not null) grid_barrier ———
//   xo = bf16(x + bf16(ya))     (ya null: xo = x)                                  [B, D] bf16
//   h  = bf16(wn · bf16(xo / √(mean_i xo² + ε)))                                   [B, D] bf16
//   g  = h · Wgᵀ + sg · (h · Agᵀ) · Bgᵀ,  u = h · Wuᵀ + su · (h · Auᵀ) · Buᵀ     phase 1   [B, F] float32
//   ——— grid_barrier ———
//   a  = bf16(bf16(g' · bf16(1/(1 + e^−g'))) · bf16(u)),  g' = bf16(g)           [B, F] bf16
//   y  = a · Wdᵀ + sd · (a · Adᵀ) · Bdᵀ                          phase 2           [B, D] float32
//   ——— (wn2 not null) every tile of y counted ———
//   x2 = bf16(xo + bf16(y)),  h2 = rmsnorm(x2)·wn2,  u_m = h2 · A_mᵀ (m < n2)  phase 3   (next norm)
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
// LoRA (r > 0; A_g, A_u [r, D], B_g, B_u [F, r], A_d [r, F], B_d [D, r] float32): the decoder's
// fused kernels compute the down-projections in the launch that produces their input
// (residual_rmsnorm_lora_bf16, swiglu_lora_bf16) and the up-projections in the matmuls' epilogues
// (mma_store). Here, with flags instead of barriers, so that nothing waits until its epilogue:
// - after the norm, the blocks with the fewest phase-1 tiles (the last ones) each compute one of
//   the 2r outputs of h·A_gᵀ, h·A_uᵀ from their staged h (the block's 4 warps sum over D) into lu
//   and count it in bar[2]; phase 1's epilogues wait for bar[2] = 2r, add the up-projection
//   (ld_cg: lu was written in this launch) and block 0 resets bar[2] after the grid barrier, when
//   every epilogue has passed its wait;
// - in phase 2 the group-0 task of each split z adds a·A_dᵀ over its split's staged a into
//   pu[z] and counts itself in bar[3]; the last of the Z adds the partials in the order z = 0 …
//   Z−1 into lu, resets bar[3] and publishes bar[4] = ~gen, gen being the grid barrier's generation
//   this launch read at its start (one per launch, so a flag left by an earlier launch never
//   matches). The down matmul's finishing warps wait for it before their epilogue. Group-0 tasks
//   are blocks 0 … Z−1's first, so every producer runs before any wait of its own block.
//
// Phase 3 (wn2 not null) is the norm after this residual add, which the decoder launched next
// (residual_rmsnorm_lora_bf16 feeding the next layer's q/k/v adapters, or the final norm): the
// down matmul's finishing warps count their tiles in bar[5]; tasks (b, c) of its grid wait for
// all D/16 and compute its block (b, c)'s outputs in its order (mlp_next_norm): every bit its.
// xo2 must not alias the rows it reads (xo, or x without a residual); it may alias x otherwise
// (every block read x before the grid barrier). u_g and u_u are that kernel's bits too.
//
// Shapes: B ≤ 8, D and F multiples of 64. Dynamic shared memory 8 · stride · 16 bytes, stride =
// 16 · max(⌈D/128⌉, ⌈⌈F/128⌉/Z⌉) + 1 (uint4 per staged row). ws: [⌈D/64⌉·4][Z][4][32] float32
// (split-K), then pu [Z][8][r] and lu [3][8][r] (the LoRA down-projections u_g, u_u, u_d);
// then phase O's partials [⌈D/64⌉·4][Zo][4][32] and attn·A_oᵀ [8][ro]; cnt: [2][⌈D/64⌉·4]
// uint32 (the down matmul's, phase O's; zero, left zero); bar: eight uint32 (zero before the first launch):
// the grid barrier's two (grid_barrier.cuh), then bar[2] and bar[3] (left zero), bar[4], and the
// next norm's bar[5] and bar[6] and phase O's LoRA count bar[7] (left zero). Phase O (attn
// [B, NH] bf16 not null, NH a multiple of 64) writes ya and stages its rows in the same shared
// memory: stride = 16 · max(⌈D/128⌉, ⌈⌈F/128⌉/Z⌉, ⌈⌈NH/128⌉/Zo⌉) + 1. Launch: a cooperative grid
// of 128-thread blocks (gomlxgrpo/cuda DecodeMLP).
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

// MLPUp is a matmul's LoRA up-projection for mlp_store: y += scale · u·Bᵀ once the flag says u is
// complete (u null: no LoRA). u [8][r] was written by other blocks of this launch: read from L2.
struct MLPUp {
  const float* u;
  const float* b;
  int r;
  float scale;
  const unsigned int* flag;  // u is complete once *flag reaches want (wait_ge) or equals it
  unsigned int want;
  bool ge;
};

// mlp_wait returns, to every lane of the warp, once up's u is complete (lane 0 spins on the flag
// with acquire loads; __syncwarp then orders the other lanes' reads after its acquire).
__device__ __forceinline__ void mlp_wait(const MLPUp& up, int lane) {
  if (lane == 0)
    for (;;) {
      const unsigned int v = ld_acquire_gpu(up.flag);
      if (up.ge ? v >= up.want : v == up.want) break;
      grid_spin_pause();
    }
  __syncwarp();
}

// mlp_task sets up a warp's share of block task `task` of a split matmul (phase 2's down, phase
// O's o projection: out outputs over in inputs): group task / Z of 64 outputs (the warp's 16 from
// o0), split z of the chunks (begin, mine of them, per per split), its rows' pointers tl, and
// issues the loads of its first NF4_DEPTH chunks (none for a warp past out).
__device__ __forceinline__ void mlp_task(NF4Rows (&w)[NF4_DEPTH], MLPTile& tl, int& o0, int& z, int& begin, int& mine,
                                         const MLPMat& m, int task, int Z, int per, int chunks, int out, int in, int warp,
                                         int g, int t) {
  z = task % Z;
  o0 = 16 * (4 * (task / Z) + warp);
  begin = z * per;
  mine = max(0, min(chunks, begin + per) - begin);
  tl = mlp_tile(m, min(o0, out - 1), out, in, g);
  if (o0 < out) mlp_prefetch(w, m, tl, in, begin, mine, t);
}

// mlp_lora_up is lora_up (mma.cuh) with u read from L2 (ld_cg): the same products added in the
// same order.
__device__ __forceinline__ float mlp_lora_up(const float* ur, const float* __restrict__ br, int r) {
  float l = 0.f;
  if ((r & 3) == 0) {
#pragma unroll 4
    for (int j = 0; j < r; j += 4) {
      const float4 b = *reinterpret_cast<const float4*>(br + j);
      l += ld_cg(ur + j) * b.x + ld_cg(ur + j + 1) * b.y + ld_cg(ur + j + 2) * b.z + ld_cg(ur + j + 3) * b.w;
    }
  } else {
    for (int j = 0; j < r; j++) l += ld_cg(ur + j) * br[j];
  }
  return l;
}

// mlp_store writes a warp's finished tile (mma's C layout: rows o0 … o0+15 of the output, rows
// 0 … 7 of x) to y for o < out and b < B, with up's LoRA term after waiting for its u: mma_store<1>
// (mma.cuh) without the bias.
__device__ __forceinline__ void mlp_store(const float (&c)[4], int lane, int o0, int B, int out, float* __restrict__ y,
                                          const MLPUp& up) {
  const int g = lane >> 2, t = lane & 3;
  if (up.u != nullptr) mlp_wait(up, lane);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float v = c[i];
    const int o = o0 + g + (i >= 2 ? 8 : 0), row = 2 * t + (i & 1);
    if (o >= out || row >= B) continue;
    if (up.u != nullptr) v += up.scale * mlp_lora_up(up.u + row * up.r, up.b + (long long)o * up.r, up.r);
    y[(long long)row * out + o] = v;
  }
}

// mlp_finish is mma_finish_warp (mma.cuh) for split z of Z given explicitly (a phase's split, not
// the grid's): partials to ws at warp tile `tile`, the last split to arrive adds them in the order
// z = 0 … Z−1 and writes y [B, out] (mlp_store, with up's LoRA term), then counts the tile in
// *done (null: not counted). A copy rather than a shared helper: passing Z and z into
// mma_finish_warp changed the committed matmuls' code (ptxas).
__device__ __forceinline__ void mlp_finish(float (&c)[4], int lane, int tile, int Z, int z, int o0, int B, int out,
                                           float* __restrict__ y, float* ws, unsigned int* cnt, const MLPUp& up,
                                           unsigned int* done) {
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
  mlp_store(c, lane, o0, B, out, y, up);
  if (done != nullptr) {  // the tile's y is written: count it (release: the lanes' stores, then lane 0's add)
    __syncwarp();
    if (lane == 0) atomic_add_acq_rel(done, 1u);
  }
}

// mlp_residual is element i of xo: residual_rmsnorm_bf16's sum (ya from L2: phase O writes it in
// this launch).
__device__ __forceinline__ unsigned short mlp_residual(const unsigned short* __restrict__ xr, const float* yr, int i) {
  return yr != nullptr ? f32_to_bf16(bf16_to_f32(xr[i]) + bf16_to_f32(f32_to_bf16(ld_cg(yr + i)))) : xr[i];
}

// mlp_inv_rms returns 1/√(mean_i xo² + ε) of one row, xo = mlp_residual(xr, yr, ·), to every
// thread, its squares added in residual_rmsnorm_bf16's order: virtual threads t and t + 128 of
// that kernel's 256, their warps' sums, then its 8 warps' in order (red: 8 shared floats). Every
// thread of the block calls it.
__device__ __forceinline__ float mlp_inv_rms(const unsigned short* __restrict__ xr, const float* yr, int D, float eps, float* red) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
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
  return 1.f / sqrtf(red[0] / D + eps);
}

// mlp_lora_down adds adapter row a [n] (zero past valid) against the n staged inputs of rows
// 0 … 7 (xh, row b at 8·stride·b) into acc[b]: lanes take inputs lane, lane + 32, …
__device__ __forceinline__ void mlp_lora_down(float (&acc)[8], const float* __restrict__ a, int n, int valid,
                                              const unsigned short* xh, int stride, int first, int step) {
#pragma unroll 4
  for (int e = first; e < n; e += step) {
    const float av = e < valid ? a[e] : 0.f;
#pragma unroll
    for (int b = 0; b < 8; b++) acc[b] += bf16_to_f32(xh[8 * stride * b + e]) * av;
  }
}

// mlp_sum256 adds per-thread partial sums the way a 256-thread block of the norm kernels does
// (rmsnorm.cu's block_sum_outputs over 8 warps), for 128 threads each standing for two of its
// threads: acc[0][k] is virtual thread t's sum k, acc[1][k] thread t + 128's (its warps 4 … 7).
// Returns sum k to thread k < PER. Every thread of the block calls it; red [PER][8] shared.
template <int PER>
__device__ __forceinline__ float mlp_sum256(float (&acc)[2][PER], float (&red)[8][8]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
#pragma unroll
  for (int k = 0; k < PER; k++)
#pragma unroll
    for (int v = 0; v < 2; v++) {
      for (int o = 16; o > 0; o >>= 1) acc[v][k] += __shfl_xor_sync(0xffffffff, acc[v][k], o);
      if (lane == 0) red[k][warp + 4 * v] = acc[v][k];
    }
  __syncthreads();
  float s = 0.f;
  if (threadIdx.x < PER)
    for (int q = 0; q < 8; q++) s += red[threadIdx.x][q];
  return s;
}

// mlp_next_norm is phase 3: the norm after this residual add, as residual_rmsnorm_lora_bf16 (its
// one-pass forms) computes it in block (b, c) of its grid: x2 = bf16(xo + bf16(y)) (to xo2, task
// c = 0), h2 = rmsnorm(x2)·wn2 (to h2, c = 0) and outputs c·4 … c·4 + 3 of the n2·r2 LoRA
// down-projections h2·A_mᵀ (to u_m [B, r2]), in its order: every bit its. y was written by other
// blocks of this launch (read from L2).
__device__ __forceinline__ void mlp_next_norm(int b, int c, const unsigned short* xr, const float* y, const unsigned short* __restrict__ wn2,
                                              unsigned short* xo2, unsigned short* h2, const float* A0, const float* A1,
                                              const float* A2, float* u0, float* u1, float* u2, int r2, int n2, int D,
                                              float eps, float* red,
                                              float (&lred)[8][8]) {
  xr += (long long)b * D;
  const float* yr = y + (long long)b * D;
  const float inv = mlp_inv_rms(xr, yr, D, eps, red);
  const int j0 = 4 * c, nj = max(0, min(4, n2 * r2 - j0));
  const float* a[4];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int j = min(j0 + k, max(n2 * r2 - 1, 0)), m = r2 > 0 ? j / r2 : 0;
    a[k] = (m == 0 ? A0 : m == 1 ? A1 : A2) + (long long)(r2 > 0 ? j % r2 : 0) * D;
  }
  float acc[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
  auto pass = [&](float (&acc)[4], int first) {  // virtual thread first's elements
    for (int i = first; i < D; i += 256) {
      const unsigned short sv = mlp_residual(xr, yr, i);
      const unsigned short h = f32_to_bf16(bf16_to_f32(wn2[i]) * bf16_to_f32(f32_to_bf16(bf16_to_f32(sv) * inv)));
      if (c == 0) {
        xo2[(long long)b * D + i] = sv;
        h2[(long long)b * D + i] = h;
      }
      const float hv = bf16_to_f32(h);
#pragma unroll
      for (int k = 0; k < 4; k++)
        if (k < nj) acc[k] += hv * a[k][i];
    }
  };
  pass(acc[0], threadIdx.x);
  pass(acc[1], threadIdx.x + 128);
  const float v = mlp_sum256(acc, lred);
  if (threadIdx.x < nj) {
    const int j = j0 + threadIdx.x;
    const int m = j / r2;
    (m == 0 ? u0 : m == 1 ? u1 : u2)[(long long)b * r2 + j % r2] = v;
  }
  __syncthreads();  // red and lred are free again
}

// mlp_phase_o is phase O (attn not null): the o projection that feeds this MLP's residual,
//
//   ya = attn · W_oᵀ + s_o · (attn · A_oᵀ) · B_oᵀ      [B, D] float32, attn [B, NH] bf16
//
// as the decoder's LoRADown + NF4GEMV on o do, then a grid barrier (every block's norm reads all
// of ya). The o adapter's down-projection (ro outputs) goes to the last blocks, in lora_down's
// terms (256-thread order; luo [8][ro]) and counted in bar[7]; the matmul's tasks are blocks of
// 64 outputs × Zo splits of NH, staged and finished as phase 2's (split-K in order; partials wso,
// counters cnto), their epilogues waiting for bar[7] = ro. Block 0 resets bar[7] after the
// barrier.
__device__ __forceinline__ void mlp_phase_o(const unsigned short* __restrict__ attn, const MLPMat& mo, const float* __restrict__ Ao,
                                            const float* __restrict__ Bo, float so, int ro, float* ya, int B, int D, int NH,
                                            int Zo, int chunksO, int perO, uint4* xs, int stride, float* wso, float* luo,
                                            unsigned int* cnto, unsigned int* bar, float (&lred)[8][8]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  unsigned short* xh = reinterpret_cast<unsigned short*>(xs);
  const int groups = (D + 63) / 64, tasks = groups * Zo;
  int task = blockIdx.x, o0 = 0, z = 0, begin = 0, mine = 0;
  NF4Rows w[NF4_DEPTH];
  MLPTile tl{};
  auto setup = [&] { mlp_task(w, tl, o0, z, begin, mine, mo, task, Zo, perO, chunksO, D, NH, warp, g, t); };
  if (task < tasks) setup();  // the first task's weights on the way during the down-projection
  for (int j = gridDim.x - 1 - blockIdx.x; j < ro; j += gridDim.x) {
    float acc[2][8] = {{0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}};
    const float* a = Ao + (long long)j * NH;
    auto pass = [&](float (&acc)[8], int first) {
      for (int i = first; i < NH; i += 256) {
        const float av = a[i];
#pragma unroll
        for (int b = 0; b < 8; b++)
          if (b < B) acc[b] += bf16_to_f32(attn[(long long)b * NH + i]) * av;
      }
    };
    pass(acc[0], threadIdx.x);
    pass(acc[1], threadIdx.x + 128);
    const float v = mlp_sum256(acc, lred);
    if (threadIdx.x < B) luo[threadIdx.x * ro + j] = v;
    __syncthreads();
    if (threadIdx.x == 0) atomic_add_acq_rel(&bar[7], 1u);
  }
  const MLPUp lora{ro > 0 ? luo : nullptr, Bo, ro, so, &bar[7], (unsigned int)ro, true};
  for (; task < tasks; task += gridDim.x) {
    if (task != (int)blockIdx.x) setup();
    __syncthreads();  // the previous task's reads of xs are done
    const int k0 = 128 * begin, n = 128 * mine;
    for (int e = threadIdx.x; e < B * n; e += blockDim.x) {
      const int b = e / n, k = k0 + (e - b * n);
      xh[8 * stride * b + (e - b * n)] = k < NH ? attn[(long long)b * NH + k] : 0;
    }
    __syncthreads();
    if (o0 < D) {
      float c[4] = {0.f, 0.f, 0.f, 0.f};
      mlp_run(c, w, mo, tl, NH, begin, mine, xs, stride, g, t);
      mlp_finish(c, lane, o0 / 16, Zo, z, o0, B, D, ya, wso, cnto, lora, nullptr);
    }
  }
  grid_barrier(bar);
  if (ro > 0 && blockIdx.x == 0 && threadIdx.x == 0) bar[7] = 0u;  // every epilogue is past its wait
  __syncthreads();  // this block's reads of xs are done (the norm overwrites rows < B below D; past
                    // D, phase 1's weights are zero codes of scale 0: nf4_rows_load)
}

extern "C" __global__ void __launch_bounds__(128, 3)
    decode_mlp_n8(const unsigned short* __restrict__ x, float* ya, const unsigned short* __restrict__ wn,
                  float eps, unsigned short* __restrict__ xo, unsigned short* __restrict__ hout, MLP_MAT_PARAMS(g),
                  MLP_MAT_PARAMS(u), MLP_MAT_PARAMS(d), float* gy, float* uy, unsigned short* __restrict__ act,
                  float* __restrict__ y, int B, int D, int F, int Z, float* ws, unsigned int* cnt, unsigned int* bar,
                  const float* __restrict__ Ag, const float* __restrict__ Bg, float sg, const float* __restrict__ Au,
                  const float* __restrict__ Bu, float su, const float* __restrict__ Ad, const float* __restrict__ Bd,
                  float sd, int r, const unsigned short* __restrict__ wn2, unsigned short* xo2, unsigned short* h2,
                  const float* A0, const float* A1, const float* A2, float* u0, float* u1, float* u2, int r2, int n2,
                  const unsigned short* __restrict__ attn, MLP_MAT_PARAMS(o), const float* __restrict__ Ao,
                  const float* __restrict__ Bo, float so, int ro, int NH, int Zo) {
  pdl_start();
  __shared__ float red[8];
  __shared__ float lred[8][8];
  __shared__ unsigned int gen0, lastD;
  DYNAMIC_SHARED(uint4, xs);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const MLPMat mg{packedg, absmaxg, absmax_qg, code2g, absmax2g, offsetg};
  const MLPMat mu{packedu, absmaxu, absmax_qu, code2u, absmax2u, offsetu};
  const MLPMat md{packedd, absmaxd, absmax_qd, code2d, absmax2d, offsetd};
  const MLPMat mo{packedo, absmaxo, absmax_qo, code2o, absmax2o, offseto};
  const int chunks1 = (D + 127) / 128, chunks2 = (F + 127) / 128, per2 = (chunks2 + Z - 1) / Z;
  const int chunksO = (NH + 127) / 128, perO = attn != nullptr ? (chunksO + Zo - 1) / Zo : 0;
  const int stride = 16 * max(max(chunks1, per2), perO) + 1;
  const int groups = (D + 63) / 64, tasks = groups * Z;
  unsigned short* xh = reinterpret_cast<unsigned short*>(xs);  // row b of the staged x at 8·stride·b
  float* pu = ws + (long long)groups * 4 * Z * 32 * 4;          // [Z][8][r]: the down adapter's partials
  float* lu = pu + Z * 8 * r;                                   // [3][8][r]: u_g, u_u, u_d
  float* wso = lu + 24 * r;                                     // phase O's split-K partials [⌈D/64⌉·4][Zo][4][32]
  float* luo = wso + (long long)groups * 4 * Zo * 32 * 4;       // [8][ro]: attn·A_oᵀ

  // h: every block, each row in residual_rmsnorm_bf16's order (virtual threads v and v + 128 of its
  // 256, their warps' sums, then the 8 warps' in order).
  for (int i = threadIdx.x; i < 8 * 8 * stride; i += blockDim.x) xh[i] = 0;
  if (threadIdx.x == 0) gen0 = ld_acquire_gpu(&bar[1]);  // before this block's arrival: this launch's
  __syncthreads();
  if (attn != nullptr) mlp_phase_o(attn, mo, Ao, Bo, so, ro, ya, B, D, NH, Zo, chunksO, perO, xs, stride, wso, luo,
                                   cnt + groups * 4, bar, lred);
  for (int b = 0; b < B; b++) {
    const unsigned short* xr = x + (long long)b * D;
    const float* yr = ya != nullptr ? ya + (long long)b * D : nullptr;
    const float inv = mlp_inv_rms(xr, yr, D, eps, red);
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

  // The gate/up down-projections: output j of the 2r (j < r: h·A_gᵀ, else h·A_uᵀ) in block
  // gridDim.x − 1 − j mod gridDim.x, whose phase-1 tiles are the fewest.
  // Each sum in residual_rmsnorm_lora_bf16's order (its 256 threads' partial sums over i = t +
  // 256e, then its 8 warps' in order), so that u_g and u_u are its bits.
  for (int j = gridDim.x - 1 - blockIdx.x; j < 2 * r; j += gridDim.x) {
    float acc[2][8] = {{0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f}};
    const float* a = (j < r ? Ag : Au) + (long long)(j % r) * D;
    mlp_lora_down(acc[0], a, D, D, xh, stride, threadIdx.x, 256);
    mlp_lora_down(acc[1], a, D, D, xh, stride, threadIdx.x + 128, 256);
    const float v = mlp_sum256(acc, lred);
    if (threadIdx.x < B) lu[((j < r ? 0 : 1) * 8 + threadIdx.x) * r + j % r] = v;
    __syncthreads();  // the block's writes before thread 0's release; lred free again
    if (threadIdx.x == 0) atomic_add_acq_rel(&bar[2], 1u);
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
    const MLPUp lora{r > 0 ? lu + (up ? 8 * r : 0) : nullptr, up ? Bu : Bg, r, up ? su : sg, &bar[2], 2u * r, true};
    mlp_store(c, lane, o0, B, F, up ? uy : gy, lora);
  }

  // Phase 2's first task: its weights' loads go out before the barrier.
  int task = blockIdx.x;
  NF4Rows w[NF4_DEPTH];
  MLPTile tl{};
  int o0 = 0, z = 0, begin = 0, mine = 0;
  auto setup = [&] { mlp_task(w, tl, o0, z, begin, mine, md, task, Z, per2, chunks2, D, F, warp, g, t); };
  if (task < tasks) setup();
  grid_barrier(bar);
  if (r > 0 && blockIdx.x == 0 && threadIdx.x == 0) bar[2] = 0u;  // every phase-1 epilogue is past its wait

  const MLPUp lora{r > 0 ? lu + 16 * r : nullptr, Bd, r, sd, &bar[4], ~gen0, false};
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
    if (r > 0 && task < Z) {  // group 0's task of split z: a·A_dᵀ over the split, warp w rows w, w + 4, …
      for (int j = warp; j < r; j += 4) {
        float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
        mlp_lora_down(acc, Ad + (long long)j * F + k0, n, F - k0, xh, stride, lane, 32);
        float v = 0.f;
#pragma unroll
        for (int b = 0; b < 8; b++) {
          for (int o = 16; o > 0; o >>= 1) acc[b] += __shfl_xor_sync(0xffffffff, acc[b], o);
          if (lane == b) v = acc[b];
        }
        if (lane < 8) pu[(z * 8 + lane) * r + j] = v;
      }
      __syncthreads();
      if (threadIdx.x == 0) lastD = atomic_add_acq_rel(&bar[3], 1u) == (unsigned int)(Z - 1);
      __syncthreads();
      if (lastD) {  // the Z partials in the order z = 0 … Z−1
        for (int e = threadIdx.x; e < 8 * r; e += blockDim.x) {
          float v = 0.f;
          for (int s = 0; s < Z; s++) v += ld_cg(pu + s * 8 * r + e);
          lu[16 * r + e] = v;
        }
        __syncthreads();
        if (threadIdx.x == 0) {
          bar[3] = 0u;
          st_release_gpu(&bar[4], ~gen0);
        }
      }
    }
    if (o0 < D) {
      float c[4] = {0.f, 0.f, 0.f, 0.f};
      mlp_run(c, w, md, tl, F, begin, mine, xs, stride, g, t);
      mlp_finish(c, lane, o0 / 16, Z, z, o0, B, D, y, ws, cnt, lora, wn2 != nullptr ? &bar[5] : nullptr);
    }
  }

  // Phase 3 (wn2 not null): the next norm, once the D/16 tiles of y are counted in bar[5]. Task
  // (b, c) of B × J (J = ⌈n2·r2/4⌉, at least 1) in block gridDim.x − 1 − task mod gridDim.x. The
  // last task to pass its wait (bar[6] counts them) resets both counts.
  if (wn2 == nullptr) return;
  const int J = max(1, (n2 * r2 + 3) / 4), ntasks = B * J;
  for (int k = gridDim.x - 1 - blockIdx.x; k < ntasks; k += gridDim.x) {
    if (threadIdx.x == 0) {
      while (ld_acquire_gpu(&bar[5]) < (unsigned int)(D / 16)) grid_spin_pause();
      if (atomic_add_acq_rel(&bar[6], 1u) == (unsigned int)(ntasks - 1)) {
        bar[5] = 0u;
        bar[6] = 0u;
      }
    }
    __syncthreads();
    mlp_next_norm(k / J, k % J, ya != nullptr ? xo : x, y, wn2, xo2, h2, A0, A1, A2, u0, u1, u2, r2, n2, D, eps, red, lred);
  }
}
