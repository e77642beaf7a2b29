// Decode matmul on NF4 weights with the LoRA update fused into the same pass:
//
//   y[b,o] = Σ_i x[b,i] · NF4[code(o,i)] · absmax[(o·in + i) / 64]  + bias[o] +  scale · Σ_j u[b,j] · lora_b[o,j]
//
// W is [out, in] row-major in bitsandbytes' NF4 layout (gomlxgrpo/quant/nf4.go), x [B, in] bfloat16
// bits, u = x·Aᵀ [B, r] float32 (the adapter's down-projection, tiny, computed before), lora_b
// [out, r] float32, bias [out] bfloat16 bits or null, y [B, out] float32. The 4-bit weights are read once per launch for up to
// MAXB = 32 rows of x: gridDim.y chunks of 32 rows each read them again (L2 helps at small shapes).
// One warp per output row; each lane takes 32 weights (16 bytes) per step, 1024 per warp step.
// Requires in % 8 == 0. Reference: the GoMLX path (quant.DequantizeGraph then Dot, plus lora.Apply).
//
// Double quantization (absmax == null): absmax[k] = code2[absmax_q[k]] · absmax2[k / 256] + offset,
// bitsandbytes' compress_statistics layout (gomlxgrpo/quant/doublequant.go).

#include "gemv.cuh"

template <int MAXB>
__device__ __forceinline__ void nf4_gemv(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                         const unsigned char* __restrict__ absmax_q, const float* __restrict__ code2,
                                         const float* __restrict__ absmax2, float offset,
                                         const unsigned short* __restrict__ x, float* __restrict__ y, int B, int in,
                                         int out, const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                         const float* __restrict__ lora_b, int r, float scale) {
  __shared__ float lut[16];
  load_nf4_lut(lut);
  const int lane = threadIdx.x & 31;
  const int o = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int b0 = blockIdx.y * MAXB;
  const int nb = min(MAXB, B - b0);
  if (o >= out || nb <= 0) return;

  float acc[MAXB];
#pragma unroll
  for (int b = 0; b < MAXB; b++) acc[b] = 0.f;

  // Main loop: one 16-byte load per lane step (32 weights, half of one 64-weight absmax block), the
  // next step's load issued before this step's arithmetic (the 4-byte-per-lane first version kept too
  // few bytes in flight to approach the card's bandwidth). Rows whose length is not a multiple of 32
  // (tiny test models) take the 4-byte loop below, which also covers any tail.
  const int words = in / 8;                       // 32-bit words in one row of W
  const unsigned int* row = packed + (long long)o * words;
  const int vecs = in % 32 == 0 ? in / 32 : 0;    // 16-byte vectors in the row
  const uint4* row4 = reinterpret_cast<const uint4*>(row);
  uint4 cur = lane < vecs ? row4[lane] : uint4{0u, 0u, 0u, 0u};
  for (int v = lane; v < vecs; v += 32) {
    const uint4 nxt = v + 32 < vecs ? row4[v + 32] : cur;
    const long long blk = ((long long)o * in + (long long)v * 32) / 64;
    const float s = absmax != nullptr ? absmax[blk] : code2[absmax_q[blk]] * absmax2[blk / 256] + offset;
    const unsigned int ws[4] = {cur.x, cur.y, cur.z, cur.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
      float wv[8];
#pragma unroll
      for (int j = 0; j < 4; j++) {
        const unsigned int byte = (ws[k] >> (8 * j)) & 0xff;
        wv[2 * j] = lut[byte >> 4] * s;
        wv[2 * j + 1] = lut[byte & 15] * s;
      }
      gemv_accumulate(acc, wv, x, b0, nb, in, v * 4 + k);
    }
    cur = nxt;
  }
  for (int w = 4 * vecs + lane; w < words; w += 32) {
    const unsigned int word = row[w];
    const long long blk = ((long long)o * in + (long long)w * 8) / 64;
    const float s = absmax != nullptr ? absmax[blk] : code2[absmax_q[blk]] * absmax2[blk / 256] + offset;
    float wv[8];
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const unsigned int byte = (word >> (8 * k)) & 0xff;
      wv[2 * k] = lut[byte >> 4] * s;
      wv[2 * k + 1] = lut[byte & 15] * s;
    }
    gemv_accumulate(acc, wv, x, b0, nb, in, w);
  }
  gemv_finish(acc, lane, o, b0, nb, out, y, bias, u, lora_b, r, scale);
}

#define NF4_GEMV_ARGS                                                                                            \
  const unsigned int *__restrict__ packed, const float *__restrict__ absmax, const unsigned char *__restrict__ absmax_q, \
      const float *__restrict__ code2, const float *__restrict__ absmax2, float offset,                                  \
      const unsigned short *__restrict__ x, float *__restrict__ y, int B, int in, int out,                               \
      const unsigned short *__restrict__ bias, const float *__restrict__ u, const float *__restrict__ lora_b, int r,     \
      float scale
#define NF4_GEMV_CALL packed, absmax, absmax_q, code2, absmax2, offset, x, y, B, in, out, bias, u, lora_b, r, scale

extern "C" __global__ void __launch_bounds__(128) nf4_gemv_lora(NF4_GEMV_ARGS) { nf4_gemv<32>(NF4_GEMV_CALL); }
extern "C" __global__ void __launch_bounds__(128) nf4_gemv_lora_b8(NF4_GEMV_ARGS) { nf4_gemv<8>(NF4_GEMV_CALL); }
