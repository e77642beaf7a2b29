// NF4 dequantization (bitsandbytes' layout, see gomlxgrpo/quant/nf4.go):
//
//   w[i] = NF4[code_i] * absmax[i / 64],  code_{2j} = packed[j] >> 4,  code_{2j+1} = packed[j] & 15
//
// One thread per 4 packed bytes (8 weights); output as bfloat16 bits (round to nearest even) or float32.
// Reference: quant.(*Quantized).Dequantize and quant.DequantizeGraph.

#include "common.cuh"

__device__ __forceinline__ void store(unsigned short* out, long long i, float v) { out[i] = f32_to_bf16(v); }
__device__ __forceinline__ void store(float* out, long long i, float v) { out[i] = v; }

template <class T>
__device__ __forceinline__ void nf4_dequant(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                            T* __restrict__ out, long long n) {
  __shared__ float lut[16];
  load_nf4_lut(lut);
  long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x;  // index of a 4-byte word = 8 weights
  long long first = q * 8;
  if (first >= n) return;
  unsigned int word = packed[q];
  float scale = absmax[first / 64];
#pragma unroll
  for (int k = 0; k < 4; k++) {
    float w0, w1;
    nf4_byte(lut, (word >> (8 * k)) & 0xff, scale, w0, w1);  // little-endian: byte k of the word is packed[4q+k]
    long long i = first + 2 * k;
    if (i < n) store(out, i, w0);
    if (i + 1 < n) store(out, i + 1, w1);
  }
}

extern "C" __global__ void nf4_dequant_bf16(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                            unsigned short* __restrict__ out, long long n) {
  pdl_start();
  nf4_dequant(packed, absmax, out, n);
}

extern "C" __global__ void nf4_dequant_f32(const unsigned int* __restrict__ packed, const float* __restrict__ absmax,
                                           float* __restrict__ out, long long n) {
  pdl_start();
  nf4_dequant(packed, absmax, out, n);
}
