// Shared device helpers for the kernels in this folder. No CUDA headers are needed: bfloat16 values
// travel as their 16-bit patterns (the same bits GoMLX/XLA store).
#pragma once

// Dynamic shared memory, spelled as a macro so that scripts/kernel_emulator can run the kernels on the CPU.
#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

// bitsandbytes' nf4_dequantization_lut, as quant.NF4. Kernels copy it to shared memory
// (load_nf4_lut) because a run-time index into a local array would live in slow local memory.
__device__ const float NF4_LUT[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                      -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                      0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                                      0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

// load_nf4_lut fills lut[16] (shared) from NF4_LUT; every thread of the block must call it.
__device__ __forceinline__ void load_nf4_lut(float* lut) {
  if (threadIdx.x < 16) lut[threadIdx.x] = NF4_LUT[threadIdx.x];
  __syncthreads();
}

// nf4_byte decodes one byte of NF4 codes with block scale s into its two weights, in bitsandbytes'
// order: the high nibble is the first (even-indexed) weight. lut is load_nf4_lut's table.
__device__ __forceinline__ void nf4_byte(const float* lut, unsigned int byte, float s, float& first, float& second) {
  first = lut[(byte >> 4) & 15] * s;
  second = lut[byte & 15] * s;
}

// ld_cg loads a float from L2, not L1 (ld.global.cg): for values other blocks of the same launch
// wrote (split-K partials, after a fence). Not volatile in the C sense, so the loads of a loop
// can all be in flight at once; asm volatile keeps them after the fence. (clang 16 has no __ldcg.)
#ifdef KERNEL_EMULATOR
__device__ __forceinline__ float ld_cg(const float* p) { return *p; }
#else
__device__ __forceinline__ float ld_cg(const float* p) {
  float v;
  asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(p));
  return v;
}
#endif

// cp_async16 copies 16 bytes from global to shared memory without passing through registers
// (cp.async.cg: through L2, not L1), or writes 16 zero bytes when !valid (src-size 0: src is then not
// read, but must still be a valid address). A thread's copies are all in flight at once;
// cp_async_wait_all waits for its own, and a __syncthreads after it makes everyone's visible. Why:
// staging x with loads into registers took one L2 round trip per 4 vectors per thread (3 for the
// Qwen2.5-1.5B slice of 24 KiB on 128 threads) on every block's critical path (ncu, tenth session:
// ~10% of the batch-8 NF4 launches' stall samples waited there).
#ifdef KERNEL_EMULATOR
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  if (valid) {
    memcpy(dst, src, 16);
  } else {
    memset(dst, 0, 16);
  }
}
__device__ __forceinline__ void cp_async_wait_all() {}
__device__ __forceinline__ void cp_async_commit() {}
template <int N>
__device__ __forceinline__ void cp_async_wait_group() {}
#else
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"((unsigned int)__cvta_generic_to_shared(dst)), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;" ::: "memory"); }
// cp_async_commit closes the thread's copies issued since the last commit into a group;
// cp_async_wait_group<N> waits until at most N of its groups are still in flight (the oldest land
// first): a ring of stages, each one group.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait_group() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }
#endif

// atomic_add_acq_rel is atomicAdd with acquire-release semantics at GPU scope.
#ifdef KERNEL_EMULATOR
__device__ __forceinline__ unsigned int atomic_add_acq_rel(unsigned int* p, unsigned int v) { return atomicAdd(p, v); }
#else
__device__ __forceinline__ unsigned int atomic_add_acq_rel(unsigned int* p, unsigned int v) {
  unsigned int old;
  asm volatile("atom.acq_rel.gpu.global.add.u32 %0, [%1], %2;" : "=r"(old) : "l"(p), "r"(v) : "memory");
  return old;
}
#endif

// Programmatic dependent launch (sm_90; the decoder launches with
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, gomlxgrpo/cuda/pdl.go). A kernel so launched
// may start while the previous kernel on the stream is still running, once every block of that one
// has called pdl_trigger: its blocks set up (shared tables, index arithmetic) and issue their loads
// of weights — which no kernel of a decode step writes — and then pdl_wait until the previous kernel
// has finished and its writes are visible. Every kernel in this folder calls pdl_wait in every block
// before it touches memory another kernel writes (pdl_start: at its first line), so that the chain
// stays ordered: a kernel finishes only after its predecessor did. Without the launch attribute both
// are no-ops, as in the kernel emulator.
#ifdef KERNEL_EMULATOR
__device__ __forceinline__ void pdl_trigger() {}
__device__ __forceinline__ void pdl_wait() {}
#else
__device__ __forceinline__ void pdl_trigger() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void pdl_wait() { asm volatile("griddepcontrol.wait;" ::: "memory"); }
#endif

// pdl_start: pdl_trigger then pdl_wait, for kernels with nothing to do before their inputs are ready.
__device__ __forceinline__ void pdl_start() {
  pdl_trigger();
  pdl_wait();
}

// block_sum_outputs adds each of a block's PER per-thread partial sums acc[k] over its W warps
// (warp shuffles, then red[k][0 … W−1] in shared memory in warp order) and returns sum k to thread
// k (0 to the threads from PER on): the last step of the kernels that compute a few LoRA
// down-projection outputs per block. Every thread of the block calls it.
template <int PER, int W>
__device__ __forceinline__ float block_sum_outputs(float (&acc)[PER], float (&red)[PER][W]) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31;
#pragma unroll
  for (int k = 0; k < PER; k++) {
    for (int o = 16; o > 0; o >>= 1) acc[k] += __shfl_xor_sync(0xffffffff, acc[k], o);
    if (lane == 0) red[k][warp] = acc[k];
  }
  __syncthreads();
  float v = 0.f;
  if (threadIdx.x < PER)
    for (int q = 0; q < W; q++) v += red[threadIdx.x][q];
  return v;
}

// float32 → bfloat16 bits, round to nearest even (NaN kept quiet), as XLA's convert does.
__device__ __forceinline__ unsigned short f32_to_bf16(float f) {
  unsigned int u = __float_as_uint(f);
  if ((u & 0x7fffffff) > 0x7f800000) return (unsigned short)((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return (unsigned short)(u >> 16);
}

__device__ __forceinline__ float bf16_to_f32(unsigned short h) { return __uint_as_float(((unsigned int)h) << 16); }

// bf16x2 packs two floats as bfloat16 (lo in the low half), rounding to nearest even: one
// cvt.rn.bf16x2.f32 on the GPU (sm_80+; it puts its first source in the upper half), f32_to_bf16
// on each in the kernel emulator (the same bits for every non-NaN input).
#ifdef KERNEL_EMULATOR
__device__ __forceinline__ unsigned int bf16x2(float lo, float hi) {
  return (unsigned int)f32_to_bf16(lo) | ((unsigned int)f32_to_bf16(hi) << 16);
}
#else
__device__ __forceinline__ unsigned int bf16x2(float lo, float hi) {
  unsigned int r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
}
#endif

// prmt returns the bytes of (y:x) that sel picks, one nibble per result byte (PTX prmt.b32, CUDA's
// __byte_perm): 0x5410 packs the low halves of x and y (x's in the low half), 0x7632 the high ones.
#ifdef KERNEL_EMULATOR
__device__ __forceinline__ unsigned int prmt(unsigned int x, unsigned int y, unsigned int sel) {
  const unsigned long long b = (unsigned long long)y << 32 | x;
  unsigned int r = 0;
  for (int i = 0; i < 4; i++) r |= (unsigned int)((b >> (8 * ((sel >> (4 * i)) & 7))) & 0xff) << (8 * i);
  return r;
}
#else
__device__ __forceinline__ unsigned int prmt(unsigned int x, unsigned int y, unsigned int sel) {
  unsigned int r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(x), "r"(y), "r"(sel));
  return r;
}
#endif

// nf4_scale is the absmax of NF4 block blk: absmax[blk], or with double quantization (absmax null)
// code2[absmax_q[blk]] · absmax2[blk / 256] + offset (bitsandbytes' compress_statistics layout).
__device__ __forceinline__ float nf4_scale(const float* __restrict__ absmax, const unsigned char* __restrict__ absmax_q,
                                           const float* __restrict__ code2, const float* __restrict__ absmax2,
                                           float offset, long long blk) {
  return absmax != nullptr ? absmax[blk] : code2[absmax_q[blk]] * absmax2[blk / 256] + offset;
}

// mma_bf16_16816: D = A·B + C on tensor cores for one warp (mma.sync m16n8k16, bf16 inputs, f32
// accumulate), in PTX's fragment layout: lane = 4·g + t;
//   a[0] = A[g][2t..2t+1], a[1] = A[g+8][2t..2t+1], a[2] = A[g][2t+8..2t+9], a[3] = A[g+8][2t+8..2t+9]
//   b[0] = B[2t..2t+1][g], b[1] = B[2t+8..2t+9][g]
//   c[0..1] = C[g][2t..2t+1], c[2..3] = C[g+8][2t..2t+1]
// (two bf16 per register, the lower index in the low half). scripts/kernel_emulator implements the
// same layout on the CPU.
#ifndef EMU_MMA
__device__ __forceinline__ void mma_bf16_16816(float (&c)[4], const unsigned int (&a)[4], const unsigned int (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#endif
