// Decode matmul on NF4 weights with the LoRA update fused into the same pass:
//
//   y[b,o] = Σ_i x[b,i] · NF4[code(o,i)] · absmax[(o·in + i) / 64]  + bias[o] +  scale · Σ_j u[b,j] · lora_b[o,j]
//
// W is [out, in] row-major in bitsandbytes' NF4 layout (gomlxgrpo/quant/nf4.go), x [B, in] bfloat16
// bits, u = x·Aᵀ [B, r] float32 (the adapter's down-projection, tiny, computed before), lora_b
// [out, r] float32, bias [out] bfloat16 bits or null, y [B, out] float32. The 4-bit weights are read once per launch for up to
// GEMV_MAXB = 32 rows of x: gridDim.y chunks of 32 rows each read them again (L2 helps at small shapes).
// One warp per output row; each lane takes 8 weights (one 32-bit word) per step, 256 per warp step.
// Requires in % 8 == 0. Reference: the GoMLX path (quant.DequantizeGraph then Dot, plus lora.Apply).
//
// Double quantization (absmax == null): absmax[k] = code2[absmax_q[k]] · absmax2[k / 256] + offset,
// bitsandbytes' compress_statistics layout (gomlxgrpo/quant/doublequant.go).

#include "gemv.cuh"

extern "C" __global__ void nf4_gemv_lora(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                         const unsigned char* __restrict__ absmax_q, const float* __restrict__ code2,
                                         const float* __restrict__ absmax2, float offset,
                                         const unsigned short* __restrict__ x, float* __restrict__ y, int B, int in,
                                         int out, const unsigned short* __restrict__ bias, const float* __restrict__ u,
                                         const float* __restrict__ lora_b, int r, float scale) {
  __shared__ float lut[16];
  load_nf4_lut(lut);
  const int lane = threadIdx.x & 31;
  const int o = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
  const int b0 = blockIdx.y * GEMV_MAXB;
  const int nb = min(GEMV_MAXB, B - b0);
  if (o >= out || nb <= 0) return;

  float acc[GEMV_MAXB];
#pragma unroll
  for (int b = 0; b < GEMV_MAXB; b++) acc[b] = 0.f;

  const int words = in / 8;                       // 32-bit words in one row of W
  const unsigned int* row = packed + (long long)o * words;
  for (int w = lane; w < words; w += 32) {
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
