// Decode matmul on bfloat16 weights (the LM head, and projections not quantized), with the bias
// and LoRA terms fused, the bfloat16 twin of nf4_gemv.cu:
//
//   y[b,o] = Σ_i x[b,i]·W[o,i] + bias[o] + scale · Σ_j u[b,j]·lora_b[o,j]      (y float32)
//
// W [out, in] and x [B, in] bfloat16 bits, bias [out] bfloat16 bits or null; in % 8 == 0.
// One warp per output row, 8 weights (16 bytes) per lane per step; GEMV_GEMV_MAXB rows of x per launch row (gemv.cuh).

#include "gemv.cuh"

extern "C" __global__ void gemv_bf16_lora(const unsigned short* __restrict__ W, const unsigned short* __restrict__ x,
                                          float* __restrict__ y, int B, int in, int out,
                                          const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                          const float* __restrict__ lora_b, int r, float scale) {
  const int lane = threadIdx.x & 31;
  const int o = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int b0 = blockIdx.y * GEMV_MAXB;
  const int nb = min(GEMV_MAXB, B - b0);
  if (o >= out || nb <= 0) return;
  float acc[GEMV_MAXB];
#pragma unroll
  for (int b = 0; b < GEMV_MAXB; b++) acc[b] = 0.f;
  const int vecs = in / 8;
  const uint4* row = reinterpret_cast<const uint4*>(W + (long long)o * in);
  for (int w = lane; w < vecs; w += 32) {
    const uint4 wv4 = row[w];
    const unsigned int ws[4] = {wv4.x, wv4.y, wv4.z, wv4.w};
    float wv[8];
#pragma unroll
    for (int k = 0; k < 4; k++) {
      wv[2 * k] = bf16_to_f32((unsigned short)(ws[k] & 0xffff));
      wv[2 * k + 1] = bf16_to_f32((unsigned short)(ws[k] >> 16));
    }
    gemv_accumulate(acc, wv, x, b0, nb, in, w);
  }
  gemv_finish(acc, lane, o, b0, nb, out, y, bias, u, lora_b, r, scale);
}

// LoRA down-projection u[b,j] = Σ_i x[b,i]·A[j,i] (x bfloat16 bits [B, in], A float32 [r, in]):
// one warp per (b, j).
extern "C" __global__ void lora_down(const unsigned short* __restrict__ x, const float* __restrict__ A,
                                     float* __restrict__ u, int B, int in, int r) {
  const int lane = threadIdx.x & 31;
  const int t = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  if (t >= B * r) return;
  const int b = t / r, j = t % r;
  float acc = 0.f;
  for (int i = lane; i < in; i += 32) acc += bf16_to_f32(x[(long long)b * in + i]) * A[(long long)j * in + i];
  for (int off = 16; off > 0; off >>= 1) acc += __shfl_xor_sync(0xffffffff, acc, off);
  if (lane == 0) u[t] = acc;
}
