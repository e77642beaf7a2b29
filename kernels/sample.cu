// One token per row from logits [B, V] float32, the device twin of gomlxgrpo/sample/device.go:
// transformers' warpers in its order (temperature, top-k, top-p, min-p), then Gumbel-max with the
// same counter-based uniforms, so it draws the tokens SampleGraph draws (up to the last ulp of log).
//
//   x_v = logit_v / T
//   top-k:  keep x_v ≥ t_k,  t_k = the k-th largest x (found by bisection on the float order: no sort)
//   top-p:  keep x_v with M(x_v) < p, M(v) = Σ_{x_u > v, u kept} e^{x_u} / Σ_{kept} e^{x_u}
//           (≡ transformers' "drop ascending cumulative mass ≤ 1−p"); the kept set is {x ≥ t_p},
//           t_p = the smallest float with M(t_p) < p, again by bisection
//   min-p:  keep x_v ≥ max(x) + log(min_p)
//   token = argmax_{kept} x_v − log(−log u_v),  u_v = Uniform(k1_b, k2_b, step, v)  (device.go)
//   logp  = x_token − log Σ_{kept} e^{x_v};   greedy: argmax of the raw logits, raw log-softmax.
//
// One block of 1024 threads per row; each bisection step is one pass over the row (V ≈ 152k
// floats, L2-resident), 32 steps for an exact float threshold.

#include "common.cuh"

#define THREADS 1024

__device__ __forceinline__ unsigned int lowbias32(unsigned int x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

__device__ __forceinline__ float uniform01(unsigned int k1, unsigned int k2, int step, int v) {
  unsigned int x = lowbias32(lowbias32(lowbias32((unsigned int)v * 0x9E3779B9u ^ k1) ^ k2) ^
                             ((unsigned int)step + 1u) * 0x85EBCA6Bu);
  return ((float)(x >> 9) + 0.5f) * (1.0f / 8388608.0f);  // < 1 in float32 (see gomlxgrpo/sample/device.go)
}

// Float ↔ unsigned key with the same order (negative floats reversed).
__device__ __forceinline__ unsigned int fkey(float f) {
  unsigned int u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float unfkey(unsigned int k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}

__device__ float block_sum(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x < THREADS / 32 ? red[threadIdx.x] : 0.f;
  if (threadIdx.x < 32)
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if (threadIdx.x == 0) red[0] = v;
  __syncthreads();
  return red[0];
}

__device__ float block_max(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x / 32] = v;
  __syncthreads();
  v = threadIdx.x < THREADS / 32 ? red[threadIdx.x] : -INFINITY;
  if (threadIdx.x < 32)
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  if (threadIdx.x == 0) red[0] = v;
  __syncthreads();
  return red[0];
}

// block_argmax returns the index of the largest score (lowest index among ties, as ArgMax does)
// and leaves that score in best (the split sampler compares it across blocks).
__device__ int block_argmax(float& best, int idx, float* redv, int* redi) {
  for (int o = 16; o > 0; o >>= 1) {
    float b2 = __shfl_xor_sync(0xffffffff, best, o);
    int i2 = __shfl_xor_sync(0xffffffff, idx, o);
    if (b2 > best || (b2 == best && i2 < idx)) best = b2, idx = i2;
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) redv[threadIdx.x / 32] = best, redi[threadIdx.x / 32] = idx;
  __syncthreads();
  if (threadIdx.x < 32) {
    best = threadIdx.x < THREADS / 32 ? redv[threadIdx.x] : -INFINITY;
    idx = threadIdx.x < THREADS / 32 ? redi[threadIdx.x] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      float b2 = __shfl_xor_sync(0xffffffff, best, o);
      int i2 = __shfl_xor_sync(0xffffffff, idx, o);
      if (b2 > best || (b2 == best && i2 < idx)) best = b2, idx = i2;
    }
    if (threadIdx.x == 0) redi[0] = idx, redv[0] = best;
  }
  __syncthreads();
  best = redv[0];
  return redi[0];
}

// draw_scan is a thread's share of the draw over the entries [v0, v1) of a row (every THREADS-th
// from v0 + threadIdx.x): x = row[v]/temp kept when x ≥ lo, lsum = Σ exp(x − mx) over them, and the
// best score (x, or x plus the entry's Gumbel noise) with its index, ties to the lower index. The
// one-block and split samplers share it, so their draws take the same scores in the same order.
__device__ __forceinline__ void draw_scan(const float* __restrict__ row, int v0, int v1, float temp, float lo, float mx,
                                          int greedy, unsigned int k1, unsigned int k2, int step, float& best, int& bi,
                                          float& lsum) {
  best = -INFINITY, lsum = 0.f, bi = 0x7fffffff;
  for (int v = v0 + threadIdx.x; v < v1; v += THREADS) {
    const float x = row[v] / temp;
    if (x < lo) continue;
    lsum += expf(x - mx);
    const float sc = greedy ? x : x - logf(-logf(uniform01(k1, k2, step, v)));
    if (sc > best || (sc == best && v < bi)) best = sc, bi = v;
  }
}

extern "C" __global__ void __launch_bounds__(THREADS) sample_rows(
    const float* __restrict__ logits, int V, const unsigned int* __restrict__ key1, const unsigned int* __restrict__ key2,
    const int* __restrict__ step_p, float temperature, int top_k, float top_p, float min_p, int greedy, int* __restrict__ tokens,
    float* __restrict__ logps) {
  pdl_start();
  __shared__ float redv[THREADS / 32];
  __shared__ int redi[THREADS / 32];
  const int b = blockIdx.x, step = *step_p;  // device memory: one captured CUDA graph serves every step
  const float* row = logits + (long long)b * V;
  const float temp = greedy ? 1.f : temperature;  // x = logit / T, divided as the graph divides

  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += THREADS) mx = fmaxf(mx, row[v] / temp);
  mx = block_max(mx, redv);

  float lo = -INFINITY;  // every kept x satisfies x >= lo
  if (!greedy && top_k > 0 && top_k < V) {
    // Largest key t with count(x ≥ t) ≥ k: the k-th largest value.
    // Invariant: count(x ≥ unfkey(a)) ≥ k; a starts at −∞ (count V), z at the maximum.
    unsigned int a = fkey(-INFINITY), z = fkey(mx);
    while (a < z) {
      unsigned int mid = (unsigned int)(((unsigned long long)a + z + 1) / 2);
      float t = unfkey(mid);
      float c = 0.f;
      for (int v = threadIdx.x; v < V; v += THREADS) c += (row[v] / temp >= t) ? 1.f : 0.f;
      if (block_sum(c, redv) >= (float)top_k) a = mid; else z = mid - 1;
    }
    lo = unfkey(a);
  }
  if (!greedy && top_p > 0.f && top_p < 1.f) {
    float zsum = 0.f;
    for (int v = threadIdx.x; v < V; v += THREADS) {
      float x = row[v] / temp;
      if (x >= lo) zsum += expf(x - mx);
    }
    zsum = block_sum(zsum, redv);
    // Smallest key t (≥ key(lo)) with M(t) < p, M(t) = mass of kept x strictly above t.
    unsigned int a = fkey(lo), z = fkey(mx);  // M(mx) = 0 < p, so z qualifies
    while (a < z) {
      unsigned int mid = a + (z - a) / 2;
      float t = unfkey(mid);
      float m = 0.f;
      for (int v = threadIdx.x; v < V; v += THREADS) {
        float x = row[v] / temp;
        if (x >= lo && x > t) m += expf(x - mx);
      }
      if (block_sum(m, redv) < top_p * zsum) z = mid; else a = mid + 1;
    }
    lo = fmaxf(lo, unfkey(a));
  }
  if (!greedy && min_p > 0.f) lo = fmaxf(lo, mx + logf(min_p));

  // Draw (or take the argmax) and the log-normalizer of the kept entries.
  const unsigned int k1 = key1[b], k2 = key2[b];
  float best, lsum;
  int bi;
  draw_scan(row, 0, V, temp, lo, mx, greedy, k1, k2, step, best, bi, lsum);
  lsum = block_sum(lsum, redv);
  int tok = block_argmax(best, bi, redv, redi);
  if (threadIdx.x == 0) {
    tokens[b] = tok;
    logps[b] = row[tok] / temp - mx - logf(lsum);
  }
}

// The split form, for draws with neither top-k nor top-p (no bisection over the whole row: TRL's
// and our defaults, greedy, min-p): gridDim.x = S blocks per row, each over a slice of the
// vocabulary, so a batch-8 step has 8·S blocks instead of 8 (sample_rows took ~146 µs per batch-8
// step on an H100, one SM per row). Two launches:
//   sample_max_split:  part_max[b][s] = max of x over slice s
//   sample_draw_split: mx = max_s part_max[b][s] (exact: every block gets the same value),
//                      lo = mx + log(min_p); over slice s: Σ_{x ≥ lo} e^{x−mx} and the best score
//                      x − log(−log u) (greedy: x), lowest index among ties; the row's last block
//                      (counter) adds the S sums in the order s = 0 … S−1 and takes the best
//                      candidate (lowest index among ties): the token sample_rows draws, the
//                      log-prob up to the order of its sum.
// part: [4][rows][S] floats (maxima, sums, best scores, best indices as int bits); cnt: [rows],
// left at zero.

// split_slice returns block s's slice [v0, v1) of V entries in S slices.
__device__ __forceinline__ void split_slice(int V, int S, int s, int& v0, int& v1) {
  const int per = (V + S - 1) / S;
  v0 = min(V, s * per);
  v1 = min(V, v0 + per);
}

extern "C" __global__ void __launch_bounds__(THREADS) sample_max_split(const float* __restrict__ logits, int V,
                                                                      float temperature, int greedy, float* __restrict__ part) {
  pdl_start();
  __shared__ float redv[THREADS / 32];
  const int s = blockIdx.x, S = gridDim.x, b = blockIdx.y;
  const float* row = logits + (long long)b * V;
  const float temp = greedy ? 1.f : temperature;
  int v0, v1;
  split_slice(V, S, s, v0, v1);
  float mx = -INFINITY;
  for (int v = v0 + threadIdx.x; v < v1; v += THREADS) mx = fmaxf(mx, row[v] / temp);
  mx = block_max(mx, redv);
  if (threadIdx.x == 0) part[(long long)b * S + s] = mx;
}

extern "C" __global__ void __launch_bounds__(THREADS) sample_draw_split(
    const float* __restrict__ logits, int V, const unsigned int* __restrict__ key1, const unsigned int* __restrict__ key2,
    const int* __restrict__ step_p, float temperature, float min_p, int greedy, float* part, unsigned int* cnt,
    int* __restrict__ tokens, float* __restrict__ logps) {
  pdl_start();
  __shared__ float redv[THREADS / 32];
  __shared__ int redi[THREADS / 32];
  __shared__ int last;
  const int s = blockIdx.x, S = gridDim.x, b = blockIdx.y, rows = gridDim.y, step = *step_p;
  const float* row = logits + (long long)b * V;
  const float temp = greedy ? 1.f : temperature;
  float* pmax = part + (long long)b * S;
  float* psum = part + (long long)(rows + b) * S;
  float* pbest = part + (long long)(2 * rows + b) * S;
  float* pidx = part + (long long)(3 * rows + b) * S;
  float mx = -INFINITY;
  for (int i = 0; i < S; i++) mx = fmaxf(mx, pmax[i]);  // written by the previous launch
  float lo = -INFINITY;
  if (!greedy && min_p > 0.f) lo = mx + logf(min_p);
  const unsigned int k1 = key1[b], k2 = key2[b];
  int v0, v1;
  split_slice(V, S, s, v0, v1);
  float best, lsum;
  int bi;
  draw_scan(row, v0, v1, temp, lo, mx, greedy, k1, k2, step, best, bi, lsum);
  lsum = block_sum(lsum, redv);
  const int tok = block_argmax(best, bi, redv, redi);
  if (threadIdx.x == 0) {
    psum[s] = lsum;
    pbest[s] = best;
    pidx[s] = __int_as_float(tok);
    __threadfence();  // the slice's results are visible before it is counted
    last = atomicAdd(&cnt[b], 1u) == (unsigned int)(S - 1);
  }
  __syncthreads();
  if (!last || threadIdx.x != 0) return;
  __threadfence();
  float sum = 0.f, bb = -INFINITY;
  int bidx = 0x7fffffff;
  for (int i = 0; i < S; i++) {
    sum += ld_cg(&psum[i]);
    const float v = ld_cg(&pbest[i]);
    const int j = __float_as_int(ld_cg(&pidx[i]));
    if (v > bb || (v == bb && j < bidx)) bb = v, bidx = j;
  }
  tokens[b] = bidx;
  logps[b] = row[bidx] / temp - mx - logf(sum);
  cnt[b] = 0;
}
