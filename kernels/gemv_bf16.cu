// Decode matmul on bfloat16 weights (the LM head, and projections not quantized), with the bias
// and LoRA terms fused, the bfloat16 twin of nf4_gemv.cu:
//
//   y[b,o] = Σ_i x[b,i]·W[o,i] + bias[o] + scale · Σ_j u[b,j]·lora_b[o,j]      (y float32)
//
// W [out, in] and x [B, in] bfloat16 bits, bias [out] bfloat16 bits or null; in % 8 == 0.
// 8 weights (16 bytes) of each of a warp's R rows per lane step; MAXB rows of x per launch row (gemv.cuh).

#include "gemv.cuh"

template <int MAXB, int R>
__device__ __forceinline__ void gemv_bf16(const unsigned short* __restrict__ W, const unsigned short* __restrict__ x,
                                          float* __restrict__ y, int B, int in, int out,
                                          const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                          const float* __restrict__ lora_b, int r, float scale) {
  GemvTile<MAXB, R> tile(B);
  if (tile.idle(out)) return;
  const int lane = tile.lane, o0 = tile.o0, b0 = tile.b0, nb = tile.nb;
  auto& acc = tile.acc;
  const int vecs = in / 8;
  if (R == 1) {  // one row per warp: the next step's load goes out before this step's arithmetic
    const uint4* row = reinterpret_cast<const uint4*>(W + (long long)o0 * in);
    uint4 cur = lane < vecs ? row[lane] : uint4{0u, 0u, 0u, 0u};
    for (int w = lane; w < vecs; w += 32) {
      const uint4 nxt = w + 32 < vecs ? row[w + 32] : cur;
      float wv[R][8];
      gemv_unpack8(cur, wv[0]);
      gemv_accumulate<MAXB, R>(acc, wv, x, b0, nb, in, w);
      cur = nxt;
    }
    gemv_finish<MAXB, R>(acc, lane, o0, b0, nb, out, y, bias, u, lora_b, r, scale);
    return;
  }
  for (int w = lane; w < vecs; w += 32) {
    uint4 wq[R];
#pragma unroll
    for (int q = 0; q < R; q++)  // all R loads in flight before the arithmetic
      wq[q] = reinterpret_cast<const uint4*>(W + (long long)min(o0 + q, out - 1) * in)[w];
    float wv[R][8];
#pragma unroll
    for (int q = 0; q < R; q++) gemv_unpack8(wq[q], wv[q]);
    gemv_accumulate<MAXB, R>(acc, wv, x, b0, nb, in, w);
  }
  gemv_finish<MAXB, R>(acc, lane, o0, b0, nb, out, y, bias, u, lora_b, r, scale);
}

#define GEMV_BF16_ARGS                                                                                       \
  const unsigned short *__restrict__ W, const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, \
      int out, const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, \
      int r, float scale
#define GEMV_BF16_CALL W, x, y, B, in, out, bias, u, lora_b, r, scale

extern "C" __global__ void __launch_bounds__(128) gemv_bf16_lora(GEMV_BF16_ARGS) { pdl_start(); gemv_bf16<32, 1>(GEMV_BF16_CALL); }
extern "C" __global__ void __launch_bounds__(128) gemv_bf16_lora_b8(GEMV_BF16_ARGS) { pdl_start(); gemv_bf16<8, 1>(GEMV_BF16_CALL); }
extern "C" __global__ void __launch_bounds__(128) gemv_bf16_lora_b8r4(GEMV_BF16_ARGS) { pdl_start(); gemv_bf16<8, 4>(GEMV_BF16_CALL); }

// LoRA down-projection u[b,j] = Σ_i x[b,i]·A[j,i] (x bfloat16 bits [B, in], A float32 [r, in],
// in % 8 == 0): one block of 128 threads per (b, j), each thread taking 8 inputs at a time (one
// 16-byte load of x, two of A) with the next iterations' loads independent of its sum, then a
// block reduction. (The first version, one warp per (b, j) reading 2 and 4 bytes per lane, walked
// in/32 dependent steps: ~12 µs per projection at in = 8,960, most of what the LoRA adapters added
// to a decode step.)
__device__ __forceinline__ void lora_down_block(const unsigned short* __restrict__ x, const float* __restrict__ A,
                                                float* __restrict__ u, int B, int in, int r) {
  __shared__ float red[4];
  const int t = blockIdx.x, b = t / r, j = t % r, lane = threadIdx.x & 31, warp = threadIdx.x / 32;
  const uint4* xv = reinterpret_cast<const uint4*>(x + (long long)b * in);
  const float4* av = reinterpret_cast<const float4*>(A + (long long)j * in);
  float acc = 0.f;
#pragma unroll 4
  for (int v = threadIdx.x; v < in / 8; v += 128) {
    const uint4 xx = xv[v];
    const float4 a0 = av[2 * v], a1 = av[2 * v + 1];
    acc += bf16_to_f32((unsigned short)(xx.x & 0xffff)) * a0.x + bf16_to_f32((unsigned short)(xx.x >> 16)) * a0.y +
           bf16_to_f32((unsigned short)(xx.y & 0xffff)) * a0.z + bf16_to_f32((unsigned short)(xx.y >> 16)) * a0.w +
           bf16_to_f32((unsigned short)(xx.z & 0xffff)) * a1.x + bf16_to_f32((unsigned short)(xx.z >> 16)) * a1.y +
           bf16_to_f32((unsigned short)(xx.w & 0xffff)) * a1.z + bf16_to_f32((unsigned short)(xx.w >> 16)) * a1.w;
  }
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffff, acc, off);
  if (lane == 0) red[warp] = acc;
  __syncthreads();
  if (threadIdx.x == 0 && t < B * r) u[t] = red[0] + red[1] + red[2] + red[3];
}

extern "C" __global__ void __launch_bounds__(128) lora_down(const unsigned short* __restrict__ x,
                                                           const float* __restrict__ A, float* __restrict__ u, int B,
                                                           int in, int r) {
  pdl_start();
  lora_down_block(x, A, u, B, in, r);
}

// lora_down3: the down-projections of up to 3 adapters that read the same x (q, k and v; gate and
// up) in one launch: blockIdx.y picks the adapter (A0/u0, A1/u1, A2/u2), each of rank r. One launch
// instead of three saves the launch and ramp of two small grids per group in the decode step.
extern "C" __global__ void __launch_bounds__(128) lora_down3(const unsigned short* __restrict__ x,
                                                            const float* __restrict__ A0, const float* __restrict__ A1,
                                                            const float* __restrict__ A2, float* __restrict__ u0,
                                                            float* __restrict__ u1, float* __restrict__ u2, int B, int in,
                                                            int r) {
  pdl_start();
  const int m = blockIdx.y;
  lora_down_block(x, m == 0 ? A0 : m == 1 ? A1 : A2, m == 0 ? u0 : m == 1 ? u1 : u2, B, in, r);
}
