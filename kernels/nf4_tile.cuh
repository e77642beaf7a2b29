// The batch-8 NF4 tensor-core helpers shared by nf4_mma.cu and decode_mlp.cu: the dequantization
// of a lane's code words into mma's A fragment (rounded as bitsandbytes' batch-≤8 inference kernel:
// nf4_mma.cu's header says how) and a lane's loads of one chunk of 128 inputs of rows g and g+8.
#pragma once

#include "mma.cuh"

#define NF4_DEPTH 4  // chunks whose loads a warp of nf4_mma_n8 keeps in flight

// NF4_BYTES(i, k) is byte k (0: low, 1: high) of NF4 values 4i … 4i+3 as bfloat16, packed 4 to a
// word: the prmt tables of nf4_pairs16. clang folds them to immediates (NF4_LUT at constant
// indices: no constant-bank load, whose first reads missed the constant cache at every launch, H200
// round 71).
__device__ __forceinline__ unsigned int nf4_bf16_bytes(int i, int k) {
  unsigned int r = 0;
#pragma unroll
  for (int j = 0; j < 4; j++) r |= (unsigned int)((f32_to_bf16(NF4_LUT[4 * i + j]) >> (8 * k)) & 0xff) << (8 * j);
  return r;
}

// nf4_pairs16 dequantizes the two code bytes in the low 16 bits of h to unscaled bfloat16 pairs:
// r0 = (NF4[hi nibble of byte 0], NF4[lo nibble]) in its (low, high) halves, r1 the same of byte 1.
// prmt looks up 4 nibbles at once among 8 bytes, so each of the values' two byte tables takes two
// lookups (entries 0–7 and 8–15, selector bit 3 cleared) and a third prmt picking per nibble by
// its bit 3; two more interleave the low and high bytes into pairs. 8 prmt and 3 logic operations
// for 4 weights.
__device__ __forceinline__ void nf4_pairs16(unsigned int h, unsigned int& r0, unsigned int& r1) {
  const unsigned int sel = h & 0x7777u, pick = ((h >> 1) & 0x4444u) | 0x3210u;
  const unsigned int lo = prmt(prmt(nf4_bf16_bytes(0, 0), nf4_bf16_bytes(1, 0), sel), prmt(nf4_bf16_bytes(2, 0), nf4_bf16_bytes(3, 0), sel), pick);
  const unsigned int hi = prmt(prmt(nf4_bf16_bytes(0, 1), nf4_bf16_bytes(1, 1), sel), prmt(nf4_bf16_bytes(2, 1), nf4_bf16_bytes(3, 1), sel), pick);
  // lo, hi: byte n of each is nibble n's value (nibble 0: byte 0's low nibble, its second weight).
  r0 = prmt(lo, hi, 0x4051u);
  r1 = prmt(lo, hi, 0x6273u);
}

// mul_bf16x2 multiplies two bfloat16 pairs, rounding each product to nearest even (fma.rn.bf16x2
// with −0: sm_80+; the product of two bfloat16 values is exact in float32, so the emulator's
// float multiply and one rounding give the same bits).
#ifdef KERNEL_EMULATOR
__device__ __forceinline__ unsigned int mul_bf16x2(unsigned int a, unsigned int b) {
  return bf16x2(bf16_to_f32(a & 0xffff) * bf16_to_f32(b & 0xffff), bf16_to_f32(a >> 16) * bf16_to_f32(b >> 16));
}
#else
__device__ __forceinline__ unsigned int mul_bf16x2(unsigned int a, unsigned int b) {
  unsigned int r;
  asm("fma.rn.bf16x2 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(0x80008000u));
  return r;
}
#endif

// nf4_scale2 is a block scale as the bfloat16 pair (bf16(s), bf16(s)) that nf4_a multiplies by.
__device__ __forceinline__ unsigned int nf4_scale2(float s) { return bf16x2(s, s); }

// nf4_a fills a, mma's A fragment for one step, from a lane's code words of rows g (wA, scale pair
// sa) and g+8 (wB, sb): the code bytes at bits sh and sh+8 of each (the step's inputs 2t, 2t+1 and
// 2t+8, 2t+9 in its permutation), in mma m16n8k16's register order (a0 row g, a1 row g+8, …).
__device__ __forceinline__ void nf4_a(unsigned int wA, unsigned int wB, int sh, unsigned int sa, unsigned int sb,
                                      unsigned int (&a)[4]) {
  unsigned int a0, a2, b0, b2;
  nf4_pairs16(wA >> sh, a0, a2);
  nf4_pairs16(wB >> sh, b0, b2);
  a[0] = mul_bf16x2(a0, sa);
  a[1] = mul_bf16x2(b0, sb);
  a[2] = mul_bf16x2(a2, sa);
  a[3] = mul_bf16x2(b2, sb);
}

__device__ __forceinline__ unsigned int word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

// NF4Rows is a lane's share of one chunk of nf4_mma_n8: 16 code bytes of rows g (a) and g+8 (b)
// and their scales.
struct NF4Rows {
  uint4 a, b;
  float sa, sb;
};

// nf4_rows_load loads the lane's codes of inputs k … k+31 (zeros past in: a 64-input tail).
__device__ __forceinline__ void nf4_rows_load(NF4Rows& w, const unsigned char* __restrict__ pa,
                                              const unsigned char* __restrict__ pb, long long blkA, long long blkB,
                                              const float* __restrict__ absmax, const unsigned char* __restrict__ absmax_q,
                                              const float* __restrict__ code2, const float* __restrict__ absmax2,
                                              float offset, int in, int k) {
  if (k >= in) {
    w.a = w.b = uint4{0u, 0u, 0u, 0u};
    w.sa = w.sb = 0.f;
    return;
  }
  w.a = *reinterpret_cast<const uint4*>(pa + k / 2);
  w.b = *reinterpret_cast<const uint4*>(pb + k / 2);
  w.sa = nf4_scale(absmax, absmax_q, code2, absmax2, offset, blkA + k / 64);
  w.sb = nf4_scale(absmax, absmax_q, code2, absmax2, offset, blkB + k / 64);
}
