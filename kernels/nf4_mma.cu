// Matmul on NF4 weights on tensor cores, for decode batches (a few to 64 rows of x), with the bias
// and the LoRA update fused:
//
//   y[b,o] = Σ_i x[b,i] · bf16(NF4[code(o,i)] · absmax[(o·in + i) / 64])  + bias[o] + scale · Σ_j u[b,j] · lora_b[o,j]
//
// The arguments and layouts of nf4_gemv_lora (nf4_gemv.cu), with in % 64 == 0, plus split-K's
// scratch (ws, cnt: mma.cuh). A block computes 16 output rows; its 4 warps dequantize NF4 codes to
// bfloat16 once and feed them as the A operand of mma m16n8k16 to every n-tile of 8 rows of x.
// The 16 inputs of an mma step are a permutation of the chunk's: a lane contributes 4 consecutive
// inputs of its own slice as A[·][2t, 2t+1, 2t+8, 2t+9] and B takes the same inputs of x (adjacent
// in memory), so the sum is unchanged. Weights are rounded to bfloat16 before the multiply, as the
// GoMLX path's dequantize-then-Dot does (quant.DequantizeGraph).
//
// nf4_mma_n8 (up to 8 rows of x) streams the weights, the decode case: chunks of 128 inputs, a
// lane reading 16 bytes of codes (inputs k0+32t … k0+32t+31, one NF4 block) from each of its rows
// g and g+8 per chunk, with NF4_DEPTH chunks' loads in flight per warp; the block's slice of x
// (8 rows × its chunks) is staged once in shared memory. The launcher picks the split-K so that
// the whole matrix is covered by about one wave of resident blocks, each warp owning at most
// NF4_MAX_WARP_CHUNKS chunks, all of whose loads it issues before the first multiply.
//
// nf4_mma_s64 (more than 8 rows, up to 64 per block along y: 8 n-tiles) stages x in shared
// memory, chunks of 64 inputs, a lane reading 8 bytes of codes per row (inputs k0+16t … k0+16t+15)
// and the matching 16 inputs of each of its 8 rows of x (below).
//
// Dequantization, rounded as bitsandbytes' batch-≤8 inference kernel (gemm_4bit_simt.cu, bf16):
//
//   w = bf16(bf16(NF4[code]) · bf16(absmax))
//
// a code byte holds two weights (high nibble first, bnb's order); register lookups by prmt in the
// 16 NF4 values' bfloat16 bytes give the pair (nf4_pairs16), and one fma.rn.bf16x2 by the block
// scale's bfloat16 pair makes the A register (nf4_a). No shared memory and no multiply in float32:
// the previous form (two lookups per byte in a shared table of floats, two multiplies and a
// cvt.rn.bf16x2.f32: w = bf16(NF4[code] · absmax), bnb's dequantize_4bit) spent ~9 instructions
// per byte, two of them shared-memory loads whose latency the loop waited on.

#include "nf4_tile.cuh"

#define NF4_MAX_WARP_CHUNKS 5  // the launcher's cap (gomlxgrpo/cuda/matmul.go): x slice ≤ 40 KiB

#define NF4_MMA_ARGS                                                                                             \
  const unsigned int *__restrict__ packed, const float *__restrict__ absmax, const unsigned char *__restrict__ absmax_q, \
      const float *__restrict__ code2, const float *__restrict__ absmax2, float offset,                                  \
      const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, int out,                               \
      const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, int r,     \
      float scale, float *ws, unsigned int *cnt

// nf4_mma_n8_tile is nf4_mma_n8 for the block's tile tileX of 16 output rows (blockIdx.x there; a
// grouped launch, nf4_mma_n8g, numbers its tiles across several matrices). Dynamic shared memory:
// 8 · (16·⌈C/Z⌉ + 1) uint4 for C chunks of 128 split Z ways.
//
// WT (nf4_mma_n8w, nf4_mma_n8gw): the block's 4 warps each take their own tile of 16 output rows
// (tileX numbers blocks of 4 tiles) over all of the block's chunks, instead of sharing one tile's
// chunks. The block's slice of x, staged in shared memory from L2, then serves 64 output rows
// instead of 16: with one tile per block, every block read 2 bytes of x per byte of codes (2 KiB
// per chunk of 128 inputs against 1 KiB of one tile's codes), three times the weights' bytes
// through L2 in all, the bound of the large batch-8 matmuls (ninth session's profile: the 8B
// shape's projections at ~730 GB/s of weights). Each warp finishes its own tile (mma_finish_warp).
template <bool WT>
__device__ __forceinline__ void nf4_mma_n8_tile(NF4_MMA_ARGS, int tileX) {
  pdl_trigger();
  __shared__ float part[MMA_WARPS - 1][32][4];
  DYNAMIC_SHARED(uint4, xs);  // [8][stride]: x rows b0 … b0+7, inputs [128·begin, 128·end), 16 bytes of padding per row
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int o0 = (WT ? tileX * MMA_WARPS + warp : tileX) * 16, b0 = blockIdx.y * 8;
  // The warp's j-th chunk (relative to begin): WT, every chunk in turn; else chunks warp, warp+4, …
  const int first = WT ? 0 : warp, step = WT ? 1 : MMA_WARPS;
  const int rowA = min(o0 + g, out - 1), rowB = min(o0 + g + 8, out - 1);  // rows past the end: never written
  const unsigned char* pa = reinterpret_cast<const unsigned char*>(packed) + (long long)rowA * (in / 2);
  const unsigned char* pb = reinterpret_cast<const unsigned char*>(packed) + (long long)rowB * (in / 2);
  const long long blkA = (long long)rowA * (in / 64), blkB = (long long)rowB * (in / 64);
  int begin, end;
  mma_chunks((in + 127) / 128, begin, end);
  const int mine = WT ? end - begin : max(0, (end - begin - warp + MMA_WARPS - 1) / MMA_WARPS);
  NF4Rows w[NF4_DEPTH];
#pragma unroll
  for (int d = 0; d < NF4_DEPTH; d++)
    if (d < mine) nf4_rows_load(w[d], pa, pb, blkA, blkB, absmax, absmax_q, code2, absmax2, offset, in, 128 * (begin + first + step * d) + 32 * t);

  // The codes are in flight; x and the split-K scratch are the previous kernels' (pdl_wait).
  pdl_wait();
  // x's slice, while the weights are on their way. WT: every copy in flight at once (cp_async16).
  // Else a thread's loads issued 4 at a time before its stores. Timed on an H100 (eleventh session,
  // bench/gpu_round46.sh, LoRA r=16): cp.async took the 8B batch-8 decode step from 7.05 to 6.93 ms
  // (the warp-tile forms) but the Qwen2.5-1.5B one from 2.91 to 2.97 ms (the others), hence both.
  const int vecs = 16 * (end - begin), stride = vecs + 1;  // uint4 per row, padded
  if constexpr (WT) {
    for (int i = threadIdx.x; i < 8 * vecs; i += blockDim.x) {
      const int row = i / vecs, k = 128 * begin + 8 * (i - row * vecs);
      const bool ok = b0 + row < B && k < in;
      cp_async16(&xs[row * stride + (i - row * vecs)], ok ? x + (long long)(b0 + row) * in + k : x, ok);
    }
  } else {
    for (int i0 = 0; i0 < 8 * vecs; i0 += 4 * blockDim.x) {
      uint4 v[4];
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int i = i0 + j * blockDim.x + threadIdx.x, row = i / vecs, k = 128 * begin + 8 * (i - row * vecs);
        v[j] = i < 8 * vecs && b0 + row < B && k < in ? *reinterpret_cast<const uint4*>(x + (long long)(b0 + row) * in + k) : uint4{0u, 0u, 0u, 0u};
      }
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const int i = i0 + j * blockDim.x + threadIdx.x, row = i / vecs;
        if (i < 8 * vecs) xs[row * stride + (i - row * vecs)] = v[j];
      }
    }
  }
  if constexpr (WT) cp_async_wait_all();
  __syncthreads();

  float c[1][4] = {{0.f, 0.f, 0.f, 0.f}};
  for (int j0 = 0; j0 < mine; j0 += NF4_DEPTH) {
#pragma unroll
    for (int d = 0; d < NF4_DEPTH; d++) {
      const int j = j0 + d;
      if (j >= mine) break;
      const uint4* xr = xs + g * stride + 16 * (first + step * j) + 4 * t;  // row g, the lane's 32 inputs
      const unsigned int sa = nf4_scale2(w[d].sa), sb = nf4_scale2(w[d].sb);
#pragma unroll
      for (int p = 0; p < 4; p++) {  // word p of the codes: steps 2p and 2p+1
        const uint4 xv = xr[p];
        const unsigned int wA = word(w[d].a, p), wB = word(w[d].b, p);
#pragma unroll
        for (int q = 0; q < 2; q++) {
          // Bytes 2q and 2q+1 of word p hold the lane's inputs 8p+4q … 8p+4q+3, as do words 2q and
          // 2q+1 of x's vector p.
          const int sh = 16 * q;
          unsigned int a[4];
          nf4_a(wA, wB, sh, sa, sb, a);
          const unsigned int b[2] = {q ? xv.z : xv.x, q ? xv.w : xv.y};
          mma_bf16_16816(c[0], a, b);
        }
      }
      if (j + NF4_DEPTH < mine)
        nf4_rows_load(w[d], pa, pb, blkA, blkB, absmax, absmax_q, code2, absmax2, offset, in, 128 * (begin + first + step * (j + NF4_DEPTH)) + 32 * t);
    }
  }
  if (WT) {
    const long long tile = ((long long)blockIdx.y * gridDim.x + blockIdx.x) * MMA_WARPS + warp;
    mma_finish_warp<1>(c, lane, tile, o0, b0, B, out, y, bias, u, lora_b, r, scale, ws, cnt);
  } else {
    mma_finish<1>(c, &part[0][0][0], warp, lane, o0, b0, B, out, y, bias, u, lora_b, r, scale, ws, cnt);
  }
}

#define NF4_MMA_CALL packed, absmax, absmax_q, code2, absmax2, offset, x, y, B, in, out, bias, u, lora_b, r, scale, ws, cnt

// nf4_mma_n8: dynamic shared memory 8 · (16·⌈C/Z⌉ + 1) uint4 for C chunks of 128 split Z ways.
extern "C" __global__ void __launch_bounds__(128) nf4_mma_n8(NF4_MMA_ARGS) { nf4_mma_n8_tile<false>(NF4_MMA_CALL, blockIdx.x); }

// nf4_mma_n8w: nf4_mma_n8 with a tile of 16 output rows per warp, 64 per block (WT above).
extern "C" __global__ void __launch_bounds__(128) nf4_mma_n8w(NF4_MMA_ARGS) { nf4_mma_n8_tile<true>(NF4_MMA_CALL, blockIdx.x); }

// NF4Mat is one matrix of a grouped launch: what differs between projections that read the same x
// (weights and scales, output, bias, adapter).
struct NF4Mat {
  const unsigned int* packed;
  const float* absmax;
  const unsigned char* absmax_q;
  const float* code2;
  const float* absmax2;
  float* y;
  const unsigned short* bias;
  const float* u;
  const float* lora_b;
  float offset;
  int out, tiles, r;
  float scale;
};

// nf4_mma_n8g takes each NF4Mat as its 14 fields, not the struct by value: gorgonia.org/cu's
// Launch copies 8 bytes per kernel argument, so a struct argument reached the kernel as its first
// pointer followed by the next arguments' bytes (CUDA_ERROR_MISALIGNED_ADDRESS on an H100;
// kernels.TestLaunchArgumentsFit now rejects any parameter wider than 8 bytes). The launcher
// (gomlxgrpo/cuda NF4GEMVGroup) passes them in this order.
#define NF4MAT_PARAMS(i)                                                                                          \
  const unsigned int *packed##i, const float *absmax##i, const unsigned char *absmax_q##i, const float *code2##i, \
      const float *absmax2##i, float *y##i, const unsigned short *bias##i, const float *u##i,                    \
      const float *lora_b##i, float offset##i, int out##i, int tiles##i, int r##i, float scale##i
#define NF4MAT_CALL(i) \
  packed##i, absmax##i, absmax_q##i, code2##i, absmax2##i, y##i, bias##i, u##i, lora_b##i, offset##i, out##i, tiles##i, r##i, scale##i
#define NF4MAT(i) \
  NF4Mat { packed##i, absmax##i, absmax_q##i, code2##i, absmax2##i, y##i, bias##i, u##i, lora_b##i, offset##i, out##i, tiles##i, r##i, scale##i }

// nf4_mma_n8g: nf4_mma_n8 over up to three NF4 matrices that read the same x (q, k and v; gate and
// up) in one launch. The grid's tiles along x are m0's, then m1's, then m2's (tiles: ⌈out/16⌉, 0
// for an unused slot); every matrix has the same inputs, so one split-K (gridDim.z) and one slice
// of x per block serve them all, and the split-K scratch is indexed by the grid's tile as in a
// single launch. Why: in the decode step each of these matmuls is short (a Qwen2.5-1.5B k or v
// projection is 16 tiles), so its launch, ramp-up and split-K tail cost more than its weights take
// to read; one launch per group pays them once.
// NF4_FORM_* pick nf4_mma_group's tile function: nf4_mma_n8_tile without and with warp tiles, and
// nf4_mma_s64_tile (below).
#define NF4_FORM_N8 0
#define NF4_FORM_N8W 1
#define NF4_FORM_S64 2

__device__ __forceinline__ void nf4_mma_s64_tile(NF4_MMA_ARGS, int tileX);

template <int FORM>
__device__ __forceinline__ void nf4_mma_group(NF4MAT_PARAMS(0), NF4MAT_PARAMS(1), NF4MAT_PARAMS(2),
                                              const unsigned short* __restrict__ x, int B, int in, float* ws, unsigned int* cnt) {
  const NF4Mat m0 = NF4MAT(0), m1 = NF4MAT(1), m2 = NF4MAT(2);
  const int t = blockIdx.x, i = t < m0.tiles ? 0 : t < m0.tiles + m1.tiles ? 1 : 2;
  const int tileX = t - (i == 0 ? 0 : i == 1 ? m0.tiles : m0.tiles + m1.tiles);
#define PICK(f) (i == 0 ? m0.f : i == 1 ? m1.f : m2.f)
#define PICKED PICK(packed), PICK(absmax), PICK(absmax_q), PICK(code2), PICK(absmax2), PICK(offset), x, PICK(y), B, in, \
               PICK(out), PICK(bias), PICK(u), PICK(lora_b), PICK(r), PICK(scale), ws, cnt, tileX
  if constexpr (FORM == NF4_FORM_S64) {
    nf4_mma_s64_tile(PICKED);
  } else {
    nf4_mma_n8_tile<FORM == NF4_FORM_N8W>(PICKED);
  }
#undef PICKED
#undef PICK
}

extern "C" __global__ void __launch_bounds__(128) nf4_mma_n8g(NF4MAT_PARAMS(0), NF4MAT_PARAMS(1), NF4MAT_PARAMS(2),
                                                           const unsigned short* __restrict__ x, int B, int in, float* ws,
                                                           unsigned int* cnt) {
  nf4_mma_group<NF4_FORM_N8>(NF4MAT_CALL(0), NF4MAT_CALL(1), NF4MAT_CALL(2), x, B, in, ws, cnt);
}

// nf4_mma_n8gw: nf4_mma_n8g with a tile per warp (nf4_mma_n8w); a matrix's tiles field then counts
// its blocks of 4 tiles (⌈out/64⌉), so that no block spans two matrices.
extern "C" __global__ void __launch_bounds__(128) nf4_mma_n8gw(NF4MAT_PARAMS(0), NF4MAT_PARAMS(1), NF4MAT_PARAMS(2),
                                                            const unsigned short* __restrict__ x, int B, int in, float* ws,
                                                            unsigned int* cnt) {
  nf4_mma_group<NF4_FORM_N8W>(NF4MAT_CALL(0), NF4MAT_CALL(1), NF4MAT_CALL(2), x, B, in, ws, cnt);
}

struct NF4Codes {  // a lane's codes of one 64-input chunk: 8 bytes of rows g (a) and g+8 (b)
  uint2 a, b;
};

// nf4_mma_s64 is the NF4 matmul for more than 8 rows of x, staged through a ring of cp.async
// stages in shared memory. A block of 4 warps covers 64 output rows (a warp: 16) for 64 rows of
// x, so x crosses L2 once per 64 output rows (4 bytes per byte of codes), and S64_STAGES−1 chunks
// of x are in flight while the warps multiply the current one; each warp keeps NF4_DEPTH chunks
// of its codes in flight in registers. Split-K (gridDim.z, the launcher's sizing) fills the card
// with blocks; each warp finishes its own tile (mma_finish_warp). Shared memory: S64_STAGES × 64
// rows of S64_STRIDE bf16 (static, 36 KiB).
//
// Why: the form it replaced (nf4_mma_n64: one tile of 16 output rows per block, x loaded from L2
// into registers by every block, 16 bytes of x per byte of codes, each chunk's loads waited for
// before its multiplies) took 203 µs for one Llama-3.2-3B layer's projections at 64 rows on an
// H200, this form 147 (bench/RESULTS.md, round 63); two other forms that shared x within a block
// (through L1, n64w; through registers and one staging buffer, w64) were slower than n64 on an
// H100 and are gone too.
//
// The inputs a lane feeds: row g and g+8 codes of inputs k0+16t … k0+16t+15 (8 bytes each)
// against x[8k+g][k0+16t … k0+16t+15], read from the stage as two 16-byte words (steps 0–1 and
// 2–3).
__device__ __forceinline__ void nf4_mma_s64_tile(NF4_MMA_ARGS, int tileX) {
  pdl_trigger();
  __shared__ uint4 xs[S64_STAGES][64][S64_STRIDE / 8];  // 8 bf16 per uint4
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int o0 = (tileX * MMA_WARPS + warp) * 16, b0 = blockIdx.y * 64;
  const int rowA = min(o0 + g, out - 1), rowB = min(o0 + g + 8, out - 1);  // rows past the end: never written
  const unsigned char* pa = reinterpret_cast<const unsigned char*>(packed) + (long long)rowA * (in / 2) + 8 * t;
  const unsigned char* pb = reinterpret_cast<const unsigned char*>(packed) + (long long)rowB * (in / 2) + 8 * t;
  const long long blkA = (long long)rowA * (in / 64), blkB = (long long)rowB * (in / 64);
  int begin, end;
  mma_chunks(in / 64, begin, end);
  const int n = max(0, end - begin);  // the block's chunks (the last blocks of a split may have none)
  auto load_codes = [&](NF4Codes& w, int chunk) {
    w.a = *reinterpret_cast<const uint2*>(pa + 32 * chunk);
    w.b = *reinterpret_cast<const uint2*>(pb + 32 * chunk);
  };
  // The scales of NF4_DEPTH chunks at a time: lane (g, t) loads those of the group's chunk t for
  // rows g and g+8, and chunk d's reach every lane of the row by a shuffle from lane (g, d). Each
  // lane loading its own chunk's scale instead fetched a 32-byte sector per 4-byte scale and row
  // (round 68's ncu: 25–28% of nf4_mma_s64's global sectors were excess).
  static_assert(NF4_DEPTH == 4, "a group's scales are one per lane t");
  auto load_scales = [&](float& sa, float& sb, int j) {  // the group of the block's chunks j … j+3
    const bool in_range = j + t < n;
    sa = in_range ? nf4_scale(absmax, absmax_q, code2, absmax2, offset, blkA + begin + j + t) : 0.f;
    sb = in_range ? nf4_scale(absmax, absmax_q, code2, absmax2, offset, blkB + begin + j + t) : 0.f;
  };
  auto stage = [&](int j) { mma_stage64(xs, j, x, b0, B, in, begin); };

  NF4Codes w[NF4_DEPTH];
#pragma unroll
  for (int d = 0; d < NF4_DEPTH; d++)
    if (d < n) load_codes(w[d], begin + d);
  float nextA, nextB;  // the scales of the next group of chunks
  load_scales(nextA, nextB, 0);
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
  for (int j0 = 0; j0 < n; j0 += NF4_DEPTH) {
    const float groupA = nextA, groupB = nextB;
    load_scales(nextA, nextB, j0 + NF4_DEPTH);  // needed NF4_DEPTH chunks later, as the codes
#pragma unroll
    for (int d = 0; d < NF4_DEPTH; d++) {
      const int j = j0 + d;
      if (j >= n) break;  // n is the block's: every thread leaves together
      const unsigned int sa = nf4_scale2(__shfl_sync(0xffffffffu, groupA, (lane & ~3) | d));
      const unsigned int sb = nf4_scale2(__shfl_sync(0xffffffffu, groupB, (lane & ~3) | d));
      // S64_STAGES−1 + j groups committed so far; at most S64_STAGES−2 in flight: chunk j's landed.
      cp_async_wait_group<S64_STAGES - 2>();
      __syncthreads();  // everyone's copies of chunk j; everyone done with chunk j−1's slot
      if (j + S64_STAGES - 1 < n) stage(j + S64_STAGES - 1);  // into chunk j−1's slot
      cp_async_commit();
      const int slot = j % S64_STAGES;
#pragma unroll
      for (int p = 0; p < 2; p++) {  // word p of the lane's codes per row: steps 2p and 2p+1
        uint4 xv[8];
#pragma unroll
        for (int k = 0; k < 8; k++) xv[k] = xs[slot][8 * k + g][2 * t + p];  // inputs 16t+8p … +7 of row 8k+g
        const unsigned int wA = p ? w[d].a.y : w[d].a.x, wB = p ? w[d].b.y : w[d].b.x;
#pragma unroll
        for (int q = 0; q < 2; q++) {
          // Bytes 2q and 2q+1 of word p hold the lane's inputs 16t+8p+4q … +3, as do words 2q and
          // 2q+1 of xv[k].
          const int sh = 16 * q;
          unsigned int a[4];
          nf4_a(wA, wB, sh, sa, sb, a);
#pragma unroll
          for (int k = 0; k < 8; k++) {
            const unsigned int b[2] = {q ? xv[k].z : xv[k].x, q ? xv[k].w : xv[k].y};
            mma_bf16_16816(c[k], a, b);
          }
        }
      }
      if (j + NF4_DEPTH < n) load_codes(w[d], begin + j + NF4_DEPTH);
    }
  }
  const long long tile = ((long long)blockIdx.y * gridDim.x + blockIdx.x) * MMA_WARPS + warp;
  mma_finish_warp<8>(c, lane, tile, o0, b0, B, out, y, bias, u, lora_b, r, scale, ws, cnt);
}

extern "C" __global__ void __launch_bounds__(128, 4) nf4_mma_s64(NF4_MMA_ARGS) { nf4_mma_s64_tile(NF4_MMA_CALL, blockIdx.x); }

// nf4_mma_s64g: nf4_mma_s64 over up to 3 matrices that read the same x (nf4_mma_n8g's grouping; a
// matrix's tiles field counts its blocks of 64 output rows).
extern "C" __global__ void __launch_bounds__(128, 4) nf4_mma_s64g(NF4MAT_PARAMS(0), NF4MAT_PARAMS(1), NF4MAT_PARAMS(2),
                                                               const unsigned short* __restrict__ x, int B, int in, float* ws,
                                                               unsigned int* cnt) {
  nf4_mma_group<NF4_FORM_S64>(NF4MAT_CALL(0), NF4MAT_CALL(1), NF4MAT_CALL(2), x, B, in, ws, cnt);
}
