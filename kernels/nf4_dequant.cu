// NF4 dequantization (bitsandbytes' layout, see gomlxgrpo/quant/nf4.go):
//
//   w[i] = NF4[code_i] * absmax[i / 64],  code_{2j} = packed[j] >> 4,  code_{2j+1} = packed[j] & 15
//
// One thread per 4 packed bytes (8 weights); output as bfloat16 bits (round to nearest even) or float32.
// Reference: quant.(*Quantized).Dequantize and quant.DequantizeGraph.

#include "common.cuh"

extern "C" __global__ void nf4_dequant_bf16(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                            unsigned short* __restrict__ out, long long n) {
  __shared__ float lut[16];
  load_nf4_lut(lut);
  long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x;  // index of a 4-byte word = 8 weights
  long long first = q * 8;
  if (first >= n) return;
  unsigned int word = packed[q];
  float scale = absmax[first / 64];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    unsigned int b = (word >> (8 * k)) & 0xff;  // little-endian: byte k of the word is packed[4q+k]
    long long i = first + 2 * k;
    if (i < n) out[i] = f32_to_bf16(lut[b >> 4] * scale);
    if (i + 1 < n) out[i + 1] = f32_to_bf16(lut[b & 15] * scale);
  }
}

extern "C" __global__ void nf4_dequant_f32(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                           float* __restrict__ out, long long n) {
  __shared__ float lut[16];
  load_nf4_lut(lut);
  long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  long long first = q * 8;
  if (first >= n) return;
  unsigned int word = packed[q];
  float scale = absmax[first / 64];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    unsigned int b = (word >> (8 * k)) & 0xff;
    long long i = first + 2 * k;
    if (i < n) out[i] = lut[b >> 4] * scale;
    if (i + 1 < n) out[i + 1] = lut[b & 15] * scale;
  }
}
