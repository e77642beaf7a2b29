// Decode matmul on NF4 weights with the LoRA update fused into the same pass:
//
//   y[b,o] = Σ_i x[b,i] · NF4[code(o,i)] · absmax[(o·in + i) / 64]  + bias[o] +  scale · Σ_j u[b,j] · lora_b[o,j]
//
// W is [out, in] row-major in bitsandbytes' NF4 layout (gomlxgrpo/quant/nf4.go), x [B, in] bfloat16
// bits, u = x·Aᵀ [B, r] float32 (the adapter's down-projection, tiny, computed before), lora_b
// [out, r] float32, bias [out] bfloat16 bits or null, y [B, out] float32. The 4-bit weights are read once per launch for up to
// MAXB = 32 rows of x: gridDim.y chunks of 32 rows each read them again (L2 helps at small shapes).
// One warp per output row; each lane takes 8 weights (one 32-bit word) per step, 256 per warp step.
// Requires in % 8 == 0. Reference: the GoMLX path (quant.DequantizeGraph then Dot, plus lora.Apply).
//
// Double quantization (absmax == null): absmax[k] = code2[absmax_q[k]] · absmax2[k / 256] + offset,
// bitsandbytes' compress_statistics layout (gomlxgrpo/quant/doublequant.go).

#include "common.cuh"

#define MAXB 32

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
  const int b0 = blockIdx.y * MAXB;
  const int nb = min(MAXB, B - b0);
  if (o >= out || nb <= 0) return;

  float acc[MAXB];
#pragma unroll
  for (int b = 0; b < MAXB; b++) acc[b] = 0.f;

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
#pragma unroll
    for (int b = 0; b < MAXB; b++) {
      if (b < nb) {
        // 8 bfloat16 inputs = 16 bytes, aligned because in % 8 == 0.
        const uint4 xv = *reinterpret_cast<const uint4*>(x + (long long)(b0 + b) * in + (long long)w * 8);
        const unsigned int xs[4] = {xv.x, xv.y, xv.z, xv.w};
#pragma unroll
        for (int k = 0; k < 4; k++) {
          acc[b] += wv[2 * k] * bf16_to_f32((unsigned short)(xs[k] & 0xffff));
          acc[b] += wv[2 * k + 1] * bf16_to_f32((unsigned short)(xs[k] >> 16));
        }
      }
    }
  }
#pragma unroll
  for (int b = 0; b < MAXB; b++) {
    if (b < nb)  // warp-uniform
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) acc[b] += __shfl_xor_sync(0xffffffff, acc[b], off);
  }
  if (lane < nb) {
    // Lane b writes row b (a compile-time-indexed select keeps acc in registers).
    float v = 0.f;
#pragma unroll
    for (int b = 0; b < MAXB; b++)
      if (b == lane) v = acc[b];
    if (bias != nullptr) v += bf16_to_f32(bias[o]);
    if (u != nullptr) {
      float l = 0.f;
      for (int j = 0; j < r; j++) l += u[(long long)(b0 + lane) * r + j] * lora_b[(long long)o * r + j];
      v += scale * l;
    }
    y[(long long)(b0 + lane) * out + o] = v;
  }
}
