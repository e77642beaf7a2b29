// Decode attention for one new position per row over the K/V cache (grouped-query), as
// model.groupedAttention computes it for T = 1 with a bfloat16 model:
//
//   score_s = bf16(q[b,n,:]·kcache[b,n/G,s,:]) / √H        for s with mask_s, else −∞
//   mask_s  = (valid[b,s] ∧ s ≤ w) ∨ s = w                   w = write_idx (the new position)
//   p_s     = bf16(softmax_s(score))
//   out[b,n,:] = bf16(Σ_s p_s · vcache[b,n/G,s,:])
//
// q [B, N, H], caches [B, K, S, H], out [B, N·H]: bfloat16 bits; valid [B, S] bytes (0/1);
// H % 4 == 0, H ≤ 256. One block per (b, n); scores for all S in shared memory (set by the launcher).
//
// Shared prompts: with src_row (int32 [B], device memory; null: none), row b reads cache positions
// s < prefix from row src_row[b]'s cache instead of its own (AttnRows). The sampler prefills each
// distinct prompt once and copies its cache entries to the prompt's G rows, so those entries are
// the same bits in every row of the prompt and the results do not change; but the G rows' blocks
// then read one copy, which L2 serves to all but the first, instead of G copies from memory (a GRPO
// batch of 8 prompts × 8 completions, 256-token prompts and 200-token completions: ~2.7× fewer
// bytes of cache per step on average).
//
// Decoding reads the whole cache once per token, so both passes over it are written for memory
// parallelism (the first version, one position per warp step and one thread per output dimension
// walking all S positions, was latency-bound): each warp takes positions s ≡ warp (mod 8), UNROLL of
// them at a time with all their loads issued first; a lane holds 4 consecutive dimensions (one
// 8-byte load), so a position's row is one coalesced 256-byte read for H = 128. The output pass keeps
// per-warp partial sums, added across the 8 warps through shared memory at the end. For head dims
// 64 and 128 both passes run on tensor cores instead (attn_scores_mma, attn_out_mma: 16 positions
// × up to 8 query heads per mma step; H200, rounds 67 and 70: the 3B batch-64 decode step 8.07 →
// 6.23 ms), the CUDA-core passes serving the other head dims and the split form.

#include "common.cuh"

#define THREADS 256
#define WARPS (THREADS / 32)
#define UNROLL 8
#define HMAX 256

struct bf16x4 {
  unsigned int lo, hi;
};

__device__ __forceinline__ bf16x4 load4(const unsigned short* p) {
  const uint2 v = *reinterpret_cast<const uint2*>(p);
  return {v.x, v.y};
}

__device__ __forceinline__ void unpack4(bf16x4 v, float (&f)[4]) {
  f[0] = bf16_to_f32((unsigned short)(v.lo & 0xffff));
  f[1] = bf16_to_f32((unsigned short)(v.lo >> 16));
  f[2] = bf16_to_f32((unsigned short)(v.hi & 0xffff));
  f[3] = bf16_to_f32((unsigned short)(v.hi >> 16));
}

// row_stats_w returns the max m of the S scores in row and the sum z of exp(row[s] − m), reduced
// by the block's W warps through red[W] in a fixed order, so every block that reduces a row gets
// the same bits; with STORE, row[s] becomes exp(row[s] − m). Every thread of the block calls it.
template <int W, bool STORE>
__device__ __forceinline__ void row_stats_w(float* row, int S, float* red, float& m, float& z) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  m = -INFINITY;
  for (int s = threadIdx.x; s < S; s += (32 * W)) m = fmaxf(m, row[s]);
  for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffff, m, o));
  if (lane == 0) red[warp] = m;
  __syncthreads();
  m = -INFINITY;
  for (int i = 0; i < W; i++) m = fmaxf(m, red[i]);
  __syncthreads();
  z = 0.f;
  for (int s = threadIdx.x; s < S; s += (32 * W)) {
    float e = expf(row[s] - m);
    if (STORE) row[s] = e;
    z += e;
  }
  for (int o = 16; o > 0; o >>= 1) z += __shfl_xor_sync(0xffffffff, z, o);
  if (lane == 0) red[warp] = z;
  __syncthreads();
  z = 0.f;
  for (int i = 0; i < W; i++) z += red[i];
}

// softmax_bf16_w replaces the S scores in row (shared memory) by bf16(softmax(row)) with the whole
// block of W warps (row_stats_w). Every thread of the block calls it; it ends with a barrier.
template <int W>
__device__ __forceinline__ void softmax_bf16_w(float* row, int S, float* red) {
  float m, z;
  row_stats_w<W, true>(row, S, red, m, z);
  for (int s = threadIdx.x; s < S; s += (32 * W)) row[s] = bf16_to_f32(f32_to_bf16(row[s] / z));
  __syncthreads();
}

// softmax_bf16 is softmax_bf16_w for the 8-warp kernels.
__device__ __forceinline__ void softmax_bf16(float* row, int S, float* red) { softmax_bf16_w<WARPS>(row, S, red); }

#define ATTN_ARGS                                                                                        \
  const unsigned short *__restrict__ q, const unsigned short *__restrict__ kcache,                         \
      const unsigned short *__restrict__ vcache, const unsigned char *__restrict__ valid,                  \
      unsigned short *__restrict__ out, int N, int K, int H, int S, const int *__restrict__ write_idx_p,     \
      const int *__restrict__ src_row, int prefix
#define ATTN_CALL q, kcache, vcache, valid, out, N, K, H, S, write_idx_p, src_row, prefix

// AttnRows are the cache rows [S, H] one (row b, kv head kh) reads: positions s < P from the cache
// of row src_row[b] (the first row holding b's prompt), the others from b's own (header).
struct AttnRows {
  const unsigned short* own;
  const unsigned short* pre;
  int P;
  __device__ __forceinline__ const unsigned short* at(int s, int H) const { return (s < P ? pre : own) + (long long)s * H; }
};

__device__ __forceinline__ AttnRows attn_rows(const unsigned short* cache, const int* __restrict__ src_row, int prefix, int b,
                                              int K, int kh, int S, int H) {
  const long long per = (long long)S * H;
  const int src = src_row ? src_row[b] : b;
  return AttnRows{cache + ((long long)b * K + kh) * per, cache + ((long long)src * K + kh) * per, src_row ? prefix : 0};
}

// attn_load_q loads the lane's dimensions of a query row into qv: 4·lane … 4·lane+3 of each group
// g < GM of 128 dimensions (zeros past H).
template <int GM>
__device__ __forceinline__ void attn_load_q(const unsigned short* qrow, int H, float (&qv)[GM][4]) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int g = 0; g < GM; g++) {
    const int i = g * 128 + 4 * lane;
    if (i < H) {
      unpack4(load4(qrow + i), qv[g]);
    } else {
#pragma unroll
      for (int k = 0; k < 4; k++) qv[g][k] = 0.f;
    }
  }
}

// attn_on is the mask of the header: position s counts when valid and not after the new position
// w = write_idx, or when it is w (written this step).
__device__ __forceinline__ bool attn_on(const unsigned char* __restrict__ vrow, int s, int write_idx) {
  return (vrow[s] && s <= write_idx) || s == write_idx;
}

// attn_row_words loads the N 32-bit words (N/4 16-byte loads) at p into w, zeros when !on (a
// masked cache row may hold anything): a lane's slice of one K or V row for the tensor-core passes.
template <int N>
__device__ __forceinline__ void attn_row_words(const unsigned short* __restrict__ p, bool on, unsigned int (&w)[N]) {
#pragma unroll
  for (int i = 0; i < N / 4; i++) {
    const uint4 v = on ? *reinterpret_cast<const uint4*>(p + 8 * i) : uint4{0u, 0u, 0u, 0u};
    w[4 * i] = v.x, w[4 * i + 1] = v.y, w[4 * i + 2] = v.z, w[4 * i + 3] = v.w;
  }
}

// attn_scores writes out[h·stride + s] = bf16(q_h·k_s)·scale, or −∞ where masked, for the QH query
// heads h of qv that share one kv head and the positions s in [begin, end): each of the W warps
// takes s = s0 + warp + W·u, U of them at a time with all their loads issued first; a lane holds 4
// consecutive dimensions per group of 128 (GM groups), so a position's row is one coalesced read
// for H = 128, read once for the QH heads.
template <int W, int U, int GM, int QH = 1>
__device__ __forceinline__ void attn_scores(const float (&qv)[QH][GM][4], const AttnRows kb,
                                            const unsigned char* __restrict__ vrow, int write_idx, int H, int begin,
                                            int end, float* out, int stride = 0) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const float scale = 1.f / sqrtf((float)H);
  for (int s0 = begin; s0 < end; s0 += W * U) {
    bf16x4 kv[U][GM];
    bool on[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int s = s0 + warp + W * u;
      on[u] = s < end && attn_on(vrow, s, write_idx);
#pragma unroll
      for (int g = 0; g < GM; g++) {
        const int i = g * 128 + 4 * lane;
        kv[u][g] = on[u] && i < H ? load4(kb.at(s, H) + i) : bf16x4{0u, 0u};
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      float f[GM][4];
#pragma unroll
      for (int g = 0; g < GM; g++) unpack4(kv[u][g], f[g]);
      const int s = s0 + warp + W * u;
#pragma unroll
      for (int h = 0; h < QH; h++) {
        float d = 0.f;
#pragma unroll
        for (int g = 0; g < GM; g++)
#pragma unroll
          for (int k = 0; k < 4; k++) d += qv[h][g][k] * f[g][k];
        for (int o = 16; o > 0; o >>= 1) d += __shfl_xor_sync(0xffffffff, d, o);
        if (lane == 0 && s < end) out[h * stride + s] = on[u] ? bf16_to_f32(f32_to_bf16(d)) * scale : -INFINITY;
      }
    }
  }
}

// attn_score_tile runs one tile's KS mma steps of attn_scores_mma: c (zeroed by the caller) =
// K rows g and g+8 (the lane's words k0, k1) times the 8 query columns (qw).
template <int KS>
__device__ __forceinline__ void attn_score_tile(const unsigned int (&k0)[2 * KS], const unsigned int (&k1)[2 * KS],
                                                const unsigned int (&qw)[2 * KS], float (&c)[4]) {
#pragma unroll
  for (int kk = 0; kk < KS; kk++) {
    const unsigned int a[4] = {k0[2 * kk], k1[2 * kk], k0[2 * kk + 1], k1[2 * kk + 1]};
    const unsigned int b[2] = {qw[2 * kk], qw[2 * kk + 1]};
    mma_bf16_16816(c, a, b);
  }
}

// attn_out_tile runs one tile's KS mma steps of attn_out_mma: c[i] += step i of Vᵀ·Pᵀ, A packed by
// prmt from the lane's V words vw (tile rows 2t, 2t+1, 2t+8, 2t+9), B = the probabilities b.
template <int KS>
__device__ __forceinline__ void attn_out_tile(const unsigned int (&vw)[4][KS], const unsigned int (&b)[2], float (&c)[KS][4]) {
#pragma unroll
  for (int i = 0; i < KS; i++) {
    const int lo = i / 2, hi = KS / 2 + i / 2;
    const unsigned int sel = (i & 1) ? 0x7632u : 0x5410u;
    const unsigned int a[4] = {prmt(vw[0][lo], vw[1][lo], sel), prmt(vw[0][hi], vw[1][hi], sel), prmt(vw[2][lo], vw[3][lo], sel),
                               prmt(vw[2][hi], vw[3][hi], sel)};
    mma_bf16_16816(c[i], a, b);
  }
}

// attn_scores_mma is attn_scores for QH ≤ 8 query heads and H = 16·KS (KS = 4 or 8) on tensor
// cores: per tile of 16 positions, S[pos][head] = K_tile · Qᵀ in KS mma m16n8k16 steps (heads
// padded to 8 with zeros), instead of a 5-step shuffle reduction per (position, head). Lane
// (g, t) supplies the dims 4t·KS/2… of its slice: A = K rows p0+g and p0+g+8, B = Q row g, each
// as H/4 contiguous dims (H/8 words, 16-byte loads); step kk takes words 2kk (k = 2t, 2t+1) and
// 2kk+1 (k = 2t+8, 2t+9) of both, a permutation of the dims taken the same way for A and B, so
// the dot products are the same sums in another order (the bf16 rounding of d may then differ by
// one step from attn_scores'). Each warp takes tiles warp, warp+W, …, TU tiles' loads at once.
template <int W, int QH, int KS, int TU = 2>
__device__ __forceinline__ void attn_scores_mma(const unsigned short* __restrict__ qrows, const AttnRows kb,
                                                const unsigned char* __restrict__ vrow, int write_idx, int S, float* out) {
  constexpr int H = 16 * KS, WORDS = KS * 2;  // a lane's 32-bit words of one row: H/4 dims
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const float scale = 1.f / sqrtf((float)H);
  unsigned int qw[WORDS];
#pragma unroll
  for (int i = 0; i < WORDS / 4; i++) {
    const uint4 v = g < QH ? *reinterpret_cast<const uint4*>(qrows + g * H + t * (H / 4) + 8 * i) : uint4{0u, 0u, 0u, 0u};
    qw[4 * i] = v.x, qw[4 * i + 1] = v.y, qw[4 * i + 2] = v.z, qw[4 * i + 3] = v.w;
  }
  const int tiles = (S + 15) / 16;
  for (int j0 = warp; j0 < tiles; j0 += W * TU) {
    unsigned int kw[TU][2][WORDS];
#pragma unroll
    for (int u = 0; u < TU; u++)
#pragma unroll
      for (int r = 0; r < 2; r++) {
        const int s = 16 * (j0 + W * u) + g + 8 * r;
        attn_row_words(kb.at(s, H) + t * (H / 4), s < S && attn_on(vrow, s, write_idx), kw[u][r]);
      }
#pragma unroll
    for (int u = 0; u < TU; u++) {
      const int p0 = 16 * (j0 + W * u);
      if (p0 >= S) break;
      float c[4] = {0.f, 0.f, 0.f, 0.f};
      attn_score_tile<KS>(kw[u][0], kw[u][1], qw, c);
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int s = p0 + g + (i >= 2 ? 8 : 0), h = 2 * t + (i & 1);
        if (h < QH && s < S) {
          out[h * S + s] = attn_on(vrow, s, write_idx) ? bf16_to_f32(f32_to_bf16(c[i])) * scale : -INFINITY;
        }
      }
    }
  }
}

// attn_out_mma is the output pass for QH ≤ 8 query heads and H = 16·KS (KS = 4 or 8) on tensor
// cores: per tile of 16 positions, C[dim][head] += Vᵀ_tile · P_tileᵀ in KS mma m16n8k16 steps
// (heads padded to 8 with zeros), instead of 4 FMAs per lane, position and head. Lane (g, t) loads
// dims (H/8)·g … (H/8)·g + H/8 − 1 (16-byte loads) of the tile's positions 2t, 2t+1, 2t+8 and
// 2t+9, zeros where masked (a masked row may hold anything) or past S; step i takes A rows g and
// g+8 as dims (H/8)·g + i and (H/8)·g + H/16 + i, packed from those rows' halves by prmt, and B =
// head g's probabilities p (bf16 values: exact as bf16). Each warp takes tiles warp, warp+W, …, TU
// tiles' loads at once, and keeps c: C rows g and g+8 (dims as above) of step i, columns (heads)
// 2t and 2t+1 (attn_out_mma_store sums the warps). The same products as the CUDA-core pass, added
// in another order.
template <int W, int QH, int KS, int TU = 1>
__device__ __forceinline__ void attn_out_mma(const float* p, const AttnRows vb,
                                             const unsigned char* __restrict__ vrow, int write_idx, int S, float (&c)[KS][4]) {
  constexpr int H = 16 * KS;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int i = 0; i < KS; i++)
#pragma unroll
    for (int k = 0; k < 4; k++) c[i][k] = 0.f;
  const int tiles = (S + 15) / 16;
  for (int j0 = warp; j0 < tiles; j0 += W * TU) {
    unsigned int vw[TU][4][KS];  // rows 2t, 2t+1, 2t+8, 2t+9 of each tile: the lane's H/8 dims
#pragma unroll
    for (int u = 0; u < TU; u++)
#pragma unroll
      for (int r = 0; r < 4; r++) {
        const int s = 16 * (j0 + W * u) + 2 * t + (r & 1) + 8 * (r >> 1);
        attn_row_words(vb.at(s, H) + g * (H / 8), s < S && attn_on(vrow, s, write_idx), vw[u][r]);
      }
#pragma unroll
    for (int u = 0; u < TU; u++) {
      const int p0 = 16 * (j0 + W * u);
      if (p0 >= S) break;
      float pr[4];
#pragma unroll
      for (int r = 0; r < 4; r++) {
        const int s = p0 + 2 * t + (r & 1) + 8 * (r >> 1);
        pr[r] = g < QH && s < S ? p[g * S + s] : 0.f;
      }
      const unsigned int b[2] = {bf16x2(pr[0], pr[1]), bf16x2(pr[2], pr[3])};
      attn_out_tile<KS>(vw[u], b, c);
    }
  }
}

// attn_out_mma_store writes out[h·H + i] = bf16(Σ_w c_w), the W warps' attn_out_mma sums added in
// the order w = 0 … W−1 through part [W][stride] (shared), head by head, for heads h < QH. Every
// thread of the block calls it; it ends with a barrier.
template <int W, int QH, int KS>
__device__ __forceinline__ void attn_out_mma_store(const float (&c)[KS][4], float* part, int stride,
                                                   unsigned short* __restrict__ out) {
  constexpr int H = 16 * KS;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int h = 0; h < QH; h++) {
    if (t == h / 2) {
      const int e = h & 1;
#pragma unroll
      for (int i = 0; i < KS; i++) {
        part[warp * stride + (H / 8) * g + i] = c[i][e];
        part[warp * stride + (H / 8) * g + H / 16 + i] = c[i][2 + e];
      }
    }
    __syncthreads();
    for (int i = threadIdx.x; i < H; i += 32 * W) {
      float v = 0.f;
#pragma unroll
      for (int w = 0; w < W; w++) v += part[w * stride + i];
      out[h * H + i] = f32_to_bf16(v);
    }
    __syncthreads();
  }
}

// attention_decode_w is the per-head kernel's body for blocks of W warps (W·32 threads), U
// positions per warp in flight, and head dims up to 128·GM (GM = 1 frees the registers of a
// second group of 128 dimensions for more positions in flight).
template <int W, int U = UNROLL, int GM = 2>
__device__ __forceinline__ void attention_decode_w(ATTN_ARGS) {
  const int write_idx = *write_idx_p;  // device memory: one captured CUDA graph serves every step
  DYNAMIC_SHARED(float, sc);           // [S] scores, then probabilities
  __shared__ float red[W];
  __shared__ float part[W][HMAX];  // per-warp partial outputs
  const int b = blockIdx.x, n = blockIdx.y, kh = n / (N / K);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  // Lane's dimensions: 4·lane … 4·lane+3, and 128 more for H = 256 (G groups of 128 dims).
  const int G = (H + 127) / 128;
  float qv[1][GM][4];
  attn_load_q<GM>(q + ((long long)b * N + n) * H, H, qv[0]);
  const AttnRows kb = attn_rows(kcache, src_row, prefix, b, K, kh, S, H);
  const AttnRows vb = attn_rows(vcache, src_row, prefix, b, K, kh, S, H);
  if (H == 128) {  // tensor cores, one query head of the 8 an mma step takes (attn_scores_mma)
    attn_scores_mma<W, 1, 8>(q + ((long long)b * N + n) * H, kb, valid + (long long)b * S, write_idx, S, sc);
  } else if (H == 64) {
    attn_scores_mma<W, 1, 4>(q + ((long long)b * N + n) * H, kb, valid + (long long)b * S, write_idx, S, sc);
  } else {
    attn_scores<W, U, GM>(qv, kb, valid + (long long)b * S, write_idx, H, 0, S, sc);
  }
  __syncthreads();
  softmax_bf16_w<W>(sc, S, red);
  if (H == 128 || H == 64) {  // the output on tensor cores too (attn_out_mma)
    unsigned short* o = out + ((long long)b * N + n) * H;
    if (H == 128) {
      float c[8][4];
      attn_out_mma<W, 1, 8>(sc, vb, valid + (long long)b * S, write_idx, S, c);
      attn_out_mma_store<W, 1, 8>(c, &part[0][0], HMAX, o);
    } else {
      float c[4][4];
      attn_out_mma<W, 1, 4>(sc, vb, valid + (long long)b * S, write_idx, S, c);
      attn_out_mma_store<W, 1, 4>(c, &part[0][0], HMAX, o);
    }
    return;
  }

  // Output: warp-partial Σ_s p_s·v_s over the warp's positions, then summed across warps.
  float acc[GM][4];
#pragma unroll
  for (int g = 0; g < GM; g++)
#pragma unroll
    for (int k = 0; k < 4; k++) acc[g][k] = 0.f;
  for (int s0 = 0; s0 < S; s0 += W * U) {
    bf16x4 vv[U][GM];
    float p[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int s = s0 + warp + W * u;
      p[u] = s < S ? sc[s] : 0.f;  // 0 for masked positions: their rows are not read
#pragma unroll
      for (int g = 0; g < GM; g++) {
        const int i = g * 128 + 4 * lane;
        vv[u][g] = p[u] != 0.f && g < G && i < H ? load4(vb.at(s, H) + i) : bf16x4{0u, 0u};
      }
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      float f[4];
#pragma unroll
      for (int g = 0; g < GM; g++) {
        unpack4(vv[u][g], f);
#pragma unroll
        for (int k = 0; k < 4; k++) acc[g][k] += p[u] * f[k];
      }
    }
  }
#pragma unroll
  for (int g = 0; g < GM; g++) {
    const int i = g * 128 + 4 * lane;
    if (g < G && i < H)
#pragma unroll
      for (int k = 0; k < 4; k++) part[warp][i + k] = acc[g][k];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < H; i += 32 * W) {
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < W; w++) v += part[w][i];
    out[((long long)b * N + n) * H + i] = f32_to_bf16(v);
  }
}

extern "C" __global__ void __launch_bounds__(THREADS) attention_decode_bf16(ATTN_ARGS) {
  pdl_start();
  attention_decode_w<WARPS>(ATTN_CALL);
}

// attention_decode_bf16_w16: the same with 16 warps per block, twice the cache positions in flight
// per block, for decode batches with few (row, head) blocks (8 rows × 12 heads on the Qwen2.5-1.5B
// shape is 96 blocks on a 132-SM card). Opt-in (GOMLXGRPO_ATTN=w16) until timed on a GPU.
extern "C" __global__ void __launch_bounds__(2 * THREADS) attention_decode_bf16_w16(ATTN_ARGS) {
  pdl_start();
  attention_decode_w<2 * WARPS>(ATTN_CALL);
}

// attention_decode_bf16_w16u16: the 16-warp form with 16 positions per warp in flight (256 per
// round trip: a 456-position pass takes 2 rounds instead of 4), for head dims ≤ 128 (the registers
// of the second group of dimensions hold the extra positions). Each warp takes the same positions
// in the same order as in the 16-warp form, so the results are its bits. Opt-in
// (GOMLXGRPO_ATTN=w16u16) until timed on a GPU.
extern "C" __global__ void __launch_bounds__(2 * THREADS) attention_decode_bf16_w16u16(ATTN_ARGS) {
  pdl_start();
  attention_decode_w<2 * WARPS, 2 * UNROLL, 1>(ATTN_CALL);
}

// attention_decode_heads is the 16-warp, 16-positions-per-warp form (attention_decode_bf16_w16u16)
// for QH query heads that share a kv head, in one block: grid (B, N/QH), heads QH·blockIdx.y …
// QH·blockIdx.y + QH−1 (QH divides G = N/K). Each K and V row is read once for the QH heads; the
// per-head kernels read it once per query head, G times in all (3 on the Llama-3.2-3B shape, 4 on
// Llama-3.1-8B and Phi-4), the bound of the batch-64 decode step's attention. Per head the same dot
// products, softmax and sums in the same order as w16u16, so the same bits (a position whose
// probability is 0 for a head adds nothing to it, as the per-head kernel, which does not read that
// row, adds p·0 = +0). H ≤ 128. Dynamic shared memory: QH·S scores.
template <int QH, int W = 2 * WARPS, int U = 2 * UNROLL>
__device__ __forceinline__ void attention_decode_heads(ATTN_ARGS) {
  const int write_idx = *write_idx_p;
  DYNAMIC_SHARED(float, sc);  // [QH][S] scores, then probabilities
  __shared__ float red[W];
  __shared__ float part[W][128];  // per-warp partial outputs of one head
  const int b = blockIdx.x, n0 = blockIdx.y * QH, kh = n0 / (N / K);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, i0 = 4 * lane;
  float qv[QH][1][4];
#pragma unroll
  for (int h = 0; h < QH; h++) attn_load_q<1>(q + ((long long)b * N + n0 + h) * H, H, qv[h]);
  const AttnRows kb = attn_rows(kcache, src_row, prefix, b, K, kh, S, H);
  const AttnRows vb = attn_rows(vcache, src_row, prefix, b, K, kh, S, H);
  if (H == 128) {
    attn_scores_mma<W, QH, 8>(q + ((long long)b * N + n0) * H, kb, valid + (long long)b * S, write_idx, S, sc);
  } else if (H == 64) {
    attn_scores_mma<W, QH, 4>(q + ((long long)b * N + n0) * H, kb, valid + (long long)b * S, write_idx, S, sc);
  } else {
    attn_scores<W, U, 1, QH>(qv, kb, valid + (long long)b * S, write_idx, H, 0, S, sc, S);
  }
  __syncthreads();
#pragma unroll
  for (int h = 0; h < QH; h++) softmax_bf16_w<W>(sc + h * S, S, red);  // head by head, as the per-head kernel
  if (H == 128 || H == 64) {  // the output on tensor cores too (attn_out_mma)
    unsigned short* o = out + ((long long)b * N + n0) * H;
    if (H == 128) {
      float c[8][4];
      attn_out_mma<W, QH, 8>(sc, vb, valid + (long long)b * S, write_idx, S, c);
      attn_out_mma_store<W, QH, 8>(c, &part[0][0], 128, o);
    } else {
      float c[4][4];
      attn_out_mma<W, QH, 4>(sc, vb, valid + (long long)b * S, write_idx, S, c);
      attn_out_mma_store<W, QH, 4>(c, &part[0][0], 128, o);
    }
    return;
  }

  float acc[QH][4];
#pragma unroll
  for (int h = 0; h < QH; h++)
#pragma unroll
    for (int k = 0; k < 4; k++) acc[h][k] = 0.f;
  for (int s0 = 0; s0 < S; s0 += W * U) {
    bf16x4 vv[U];
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int s = s0 + warp + W * u;
      bool any = false;  // some head's probability is not 0: read the row
#pragma unroll
      for (int h = 0; h < QH; h++) any = any || (s < S && sc[h * S + s] != 0.f);
      vv[u] = any && i0 < H ? load4(vb.at(s, H) + i0) : bf16x4{0u, 0u};
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int s = s0 + warp + W * u;
      float f[4];
      unpack4(vv[u], f);
#pragma unroll
      for (int h = 0; h < QH; h++) {
        const float p = s < S ? sc[h * S + s] : 0.f;  // read again from shared memory: registers hold the rows in flight
        if (p != 0.f)
#pragma unroll
          for (int k = 0; k < 4; k++) acc[h][k] += p * f[k];
      }
    }
  }
#pragma unroll
  for (int h = 0; h < QH; h++) {
    if (i0 < H)
#pragma unroll
      for (int k = 0; k < 4; k++) part[warp][i0 + k] = acc[h][k];
    __syncthreads();
    for (int i = threadIdx.x; i < H; i += 32 * W) {
      float v = 0.f;
#pragma unroll
      for (int w = 0; w < W; w++) v += part[w][i];
      out[((long long)b * N + n0 + h) * H + i] = f32_to_bf16(v);
    }
    __syncthreads();
  }
}

extern "C" __global__ void __launch_bounds__(2 * THREADS) attention_decode_bf16_h2(ATTN_ARGS) {
  pdl_start();
  attention_decode_heads<2>(ATTN_CALL);
}
extern "C" __global__ void __launch_bounds__(2 * THREADS) attention_decode_bf16_h3(ATTN_ARGS) {
  pdl_start();
  attention_decode_heads<3>(ATTN_CALL);
}
extern "C" __global__ void __launch_bounds__(2 * THREADS) attention_decode_bf16_h4(ATTN_ARGS) {
  pdl_start();
  attention_decode_heads<4>(ATTN_CALL);
}

// The same with 8 warps of 8 positions each, the shape of the per-head attention_decode_bf16 (whose
// bits they give: the warps' positions and the cross-warp sums follow the warp count), for steps
// with more blocks than the card holds at once, as that kernel is: the 16-warp blocks take 128
// registers a thread, one block per SM. Bounded to 2 blocks per SM (128 registers, a few bytes of
// spills): with the output pass on tensor cores _h3w8 took 156 registers and 1 block per SM, and
// the 3B batch-64 decode step 6.72 ms against 6.23 (H200, round 70).
extern "C" __global__ void __launch_bounds__(THREADS, 2) attention_decode_bf16_h2w8(ATTN_ARGS) {
  pdl_start();
  attention_decode_heads<2, WARPS, UNROLL>(ATTN_CALL);
}
extern "C" __global__ void __launch_bounds__(THREADS, 2) attention_decode_bf16_h3w8(ATTN_ARGS) {
  pdl_start();
  attention_decode_heads<3, WARPS, UNROLL>(ATTN_CALL);
}
extern "C" __global__ void __launch_bounds__(THREADS, 2) attention_decode_bf16_h4w8(ATTN_ARGS) {
  pdl_start();
  attention_decode_heads<4, WARPS, UNROLL>(ATTN_CALL);
}

// attention_decode_rows is attention_decode_heads (tensor-core passes, H = 16·KS: 64 or 128) for R
// rows of one prompt and QH query heads per block, QH·R ≤ 8: the mma steps' 8 columns are the
// block's (row r, head h) = (c / QH, c % QH). With shared prompts a tile of 16 positions below the
// prompt width holds the same K and V rows for the R rows (their prompt's first row's), so one mma
// serves all R rows' columns and the tile is read once for them, not R times (from L2, with
// attention_decode_heads); a tile reaching past the prompt width takes one mma per row on that
// row's own cache, kept for that row's columns only (scores) or with the other rows'
// probabilities 0 (output: adding 0 leaves a sum as it is). Per column the same products, added in
// the same order as attention_decode_heads with W warps: its bits. The launcher takes this form
// only when the rows b0 … b0+R−1 of every block share src_row (GOMLXGRPO_ATTN_ROWS).
// Grid (B/R, N/QH); dynamic shared memory: QH·R·S scores.
template <int QH, int R, int KS, int W>
__device__ __forceinline__ void attention_decode_rows(ATTN_ARGS) {
  constexpr int C = QH * R, HH = 16 * KS, WORDS = 2 * KS;
  static_assert(C <= 8, "one mma column per (row, head)");
  const int write_idx = *write_idx_p;
  DYNAMIC_SHARED(float, sc);  // [C][S] scores, then probabilities
  __shared__ float red[W];
  __shared__ float part[W][128];  // per-warp partial outputs of one column
  const int b0 = blockIdx.x * R, n0 = blockIdx.y * QH, kh = n0 / (N / K);
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const float scale = 1.f / sqrtf((float)HH);
  const int P = src_row ? prefix : 0;  // tiles wholly below P are shared; none without shared prompts
  unsigned int qw[WORDS];  // B: column g's query row, as attn_scores_mma
  {
    const int r = g / QH, h = g % QH;
#pragma unroll
    for (int i = 0; i < WORDS / 4; i++) {
      const uint4 v = g < C ? *reinterpret_cast<const uint4*>(q + ((long long)(b0 + r) * N + n0 + h) * HH + t * (HH / 4) + 8 * i)
                            : uint4{0u, 0u, 0u, 0u};
      qw[4 * i] = v.x, qw[4 * i + 1] = v.y, qw[4 * i + 2] = v.z, qw[4 * i + 3] = v.w;
    }
  }
  const int tiles = (S + 15) / 16;
  for (int j = warp; j < tiles; j += W) {
    const int p0 = 16 * j;
    const bool shared = p0 + 16 <= P;
#pragma unroll
    for (int r = 0; r < R; r++) {
      if (r > 0 && shared) continue;  // (continue, not break: the loop unrolls)
      const AttnRows kb = attn_rows(kcache, src_row, prefix, b0 + r, K, kh, S, HH);
      const unsigned char* vrow = valid + (long long)(b0 + r) * S;
      unsigned int kw[2][WORDS];
#pragma unroll
      for (int h2 = 0; h2 < 2; h2++) {
        const int s = p0 + g + 8 * h2;
        attn_row_words(kb.at(s, HH) + t * (HH / 4), s < S && attn_on(vrow, s, write_idx), kw[h2]);
      }
      float c[4] = {0.f, 0.f, 0.f, 0.f};
      attn_score_tile<KS>(kw[0], kw[1], qw, c);
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int s = p0 + g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
        if (col < C && s < S && (shared || col / QH == r)) {
          sc[col * S + s] = attn_on(valid + (long long)(b0 + col / QH) * S, s, write_idx) ? bf16_to_f32(f32_to_bf16(c[i])) * scale : -INFINITY;
        }
      }
    }
  }
  __syncthreads();
#pragma unroll
  for (int col = 0; col < C; col++) softmax_bf16_w<W>(sc + col * S, S, red);  // column by column, as the heads kernel

  float acc[KS][4];
#pragma unroll
  for (int i = 0; i < KS; i++)
#pragma unroll
    for (int k = 0; k < 4; k++) acc[i][k] = 0.f;
  for (int j = warp; j < tiles; j += W) {
    const int p0 = 16 * j;
    const bool shared = p0 + 16 <= P;
#pragma unroll
    for (int r = 0; r < R; r++) {
      if (r > 0 && shared) continue;
      const AttnRows vb = attn_rows(vcache, src_row, prefix, b0 + r, K, kh, S, HH);
      const unsigned char* vrow = valid + (long long)(b0 + r) * S;
      unsigned int vw[4][KS];  // rows 2t, 2t+1, 2t+8, 2t+9 of the tile: the lane's H/8 dims
#pragma unroll
      for (int rr = 0; rr < 4; rr++) {
        const int s = p0 + 2 * t + (rr & 1) + 8 * (rr >> 1);
        attn_row_words(vb.at(s, HH) + g * (HH / 8), s < S && attn_on(vrow, s, write_idx), vw[rr]);
      }
      float pr[4];
#pragma unroll
      for (int rr = 0; rr < 4; rr++) {
        const int s = p0 + 2 * t + (rr & 1) + 8 * (rr >> 1);
        pr[rr] = g < C && s < S && (shared || g / QH == r) ? sc[g * S + s] : 0.f;
      }
      const unsigned int b[2] = {bf16x2(pr[0], pr[1]), bf16x2(pr[2], pr[3])};
      attn_out_tile<KS>(vw, b, acc);
    }
  }
  // attn_out_mma_store's sums, column by column into its (row, head). (Not attn_out_mma_store with
  // the output address as a parameter: that changed the timed heads kernels' PTX.)
#pragma unroll
  for (int col = 0; col < C; col++) {
    if (t == col / 2) {
      const int e = col & 1;
#pragma unroll
      for (int i = 0; i < KS; i++) {
        part[warp][(HH / 8) * g + i] = acc[i][e];
        part[warp][(HH / 8) * g + HH / 16 + i] = acc[i][2 + e];
      }
    }
    __syncthreads();
    unsigned short* o = out + ((long long)(b0 + col / QH) * N + n0 + col % QH) * HH;
    for (int i = threadIdx.x; i < HH; i += 32 * W) {
      float v = 0.f;
#pragma unroll
      for (int w = 0; w < W; w++) v += part[w][i];
      o[i] = f32_to_bf16(v);
    }
    __syncthreads();
  }
}

// The 8-warp forms (as _hQHw8) for 2 rows of 3 or 4 heads and 4 rows of 2; H = 128 or 64.
#define ATTN_ROWS(QH, R)                                                                                 \
  extern "C" __global__ void __launch_bounds__(THREADS, 2) attention_decode_bf16_h##QH##r##R##w8(ATTN_ARGS) { \
    pdl_start();                                                                                         \
    if (H == 128) attention_decode_rows<QH, R, 8, WARPS>(ATTN_CALL);                                     \
    else attention_decode_rows<QH, R, 4, WARPS>(ATTN_CALL);                                              \
  }
ATTN_ROWS(2, 4)
ATTN_ROWS(3, 2)
ATTN_ROWS(4, 2)

// The split form ("flash-decoding"): the per-head kernels walk all S positions in one block, 8 or
// 16 warps × UNROLL positions per round trip to memory, so a block waits on ⌈S / (W·UNROLL)⌉
// round trips per pass (456 positions: 8 with 8 warps) and a batch-8 step has only 96 such blocks
// for 132 SMs. Here the positions are split into slices of L = 64·R (R rounds of the 8 warps),
// one block per (head, slice, row), in two launches:
//
//   attention_scores_split_bf16: score_s for the block's slice into sc [B, N, S] float32
//   attention_out_split_bf16:    the row's softmax statistics from sc (max m, sum z: every block
//       of a row reduces all S scores in softmax_bf16's order, so m, z and p_s = bf16(e_s / z) are
//       the per-head kernel's bits), the slice's Σ p_s·v_s into part [B, N, P, H] float32, and the
//       last block of the row to finish (counter cnt[b·N + n], left at 0) adds the P partial sums
//       in the order 0 … P−1 and writes out (same result whatever the blocks' timing).
//
// Grid: (N, P, B), so that the G query heads sharing a kv head's slice run side by side and read
// it from L2. sc, part and cnt are the launcher's scratch (gomlxgrpo/cuda/decode.go).
#define SPLIT_ARGS ATTN_ARGS, float *__restrict__ sc, float *__restrict__ part, unsigned int *__restrict__ cnt, int L

extern "C" __global__ void __launch_bounds__(THREADS) attention_scores_split_bf16(SPLIT_ARGS) {
  pdl_start();
  const int n = blockIdx.x, p = blockIdx.y, b = blockIdx.z, kh = n / (N / K);
  float qv[1][2][4];
  attn_load_q<2>(q + ((long long)b * N + n) * H, H, qv[0]);
  attn_scores<WARPS, UNROLL, 2>(qv, attn_rows(kcache, src_row, prefix, b, K, kh, S, H), valid + (long long)b * S, *write_idx_p, H, p * L,
                                min(S, (p + 1) * L), sc + ((long long)b * N + n) * S);
}

extern "C" __global__ void __launch_bounds__(THREADS) attention_out_split_bf16(SPLIT_ARGS) {
  pdl_start();
  __shared__ float red[WARPS];
  __shared__ float wpart[WARPS][HMAX];
  __shared__ bool last;
  const int n = blockIdx.x, p = blockIdx.y, b = blockIdx.z, kh = n / (N / K), P = gridDim.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int G = (H + 127) / 128;
  const long long bn = (long long)b * N + n;
  float* srow = sc + bn * S;
  const AttnRows vb = attn_rows(vcache, src_row, prefix, b, K, kh, S, H);

  // The row's max and sum of exponentials: the per-head 8-warp kernel's softmax_bf16 bits.
  float m, z;
  row_stats_w<WARPS, false>(srow, S, red, m, z);

  float acc[2][4];
#pragma unroll
  for (int g = 0; g < 2; g++)
#pragma unroll
    for (int k = 0; k < 4; k++) acc[g][k] = 0.f;
  const int end = min(S, (p + 1) * L);
  for (int s0 = p * L; s0 < end; s0 += WARPS * UNROLL) {
    bf16x4 vv[UNROLL][2];
    float pr[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int s = s0 + warp + WARPS * u;
      pr[u] = s < end ? bf16_to_f32(f32_to_bf16(expf(srow[s] - m) / z)) : 0.f;  // 0 for masked positions: not read
#pragma unroll
      for (int g = 0; g < 2; g++) {
        const int i = g * 128 + 4 * lane;
        vv[u][g] = pr[u] != 0.f && g < G && i < H ? load4(vb.at(s, H) + i) : bf16x4{0u, 0u};
      }
    }
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      float f[4];
#pragma unroll
      for (int g = 0; g < 2; g++) {
        unpack4(vv[u][g], f);
#pragma unroll
        for (int k = 0; k < 4; k++) acc[g][k] += pr[u] * f[k];
      }
    }
  }
#pragma unroll
  for (int g = 0; g < 2; g++) {
    const int i = g * 128 + 4 * lane;
    if (g < G && i < H)
#pragma unroll
      for (int k = 0; k < 4; k++) wpart[warp][i + k] = acc[g][k];
  }
  __syncthreads();
  float* prow = part + bn * P * H;
  for (int i = threadIdx.x; i < H; i += THREADS) {
    float v = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; w++) v += wpart[w][i];
    prow[(long long)p * H + i] = v;
  }
  __threadfence();  // this block's partial sums are visible before it is counted
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(&cnt[bn], 1u) == (unsigned int)(P - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  for (int i = threadIdx.x; i < H; i += THREADS) {
    float v = 0.f;
    for (int j = 0; j < P; j++) v += *(volatile float*)&prow[(long long)j * H + i];  // volatile: not from L1 (other blocks wrote it)
    out[bn * H + i] = f32_to_bf16(v);
  }
  if (threadIdx.x == 0) cnt[bn] = 0;
}
