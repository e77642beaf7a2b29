// grid_barrier: every block of the grid waits until all of them have reached it, and each block's
// writes before the barrier are visible to every block after it (GPU scope). The building block of
// a persistent kernel, whose phases (a layer's matmuls, norms, attention) would wait on each other
// here instead of at kernel boundaries (bench/RESULTS.md: the batch-8 decode step is a chain of ~10
// latency-bound launches per layer).
//
// bar: two uint32 in global memory, zero before the grid's first barrier: [0] counts the blocks
// arrived at the current barrier, [1] counts the barriers passed (its generation). Thread 0 of a
// block reads the generation, then arrives (atom.acq_rel.gpu); the last block to arrive resets the
// count and publishes generation + 1 (st.release.gpu); the others spin until they read it
// (ld.acquire.gpu). Each block reads the generation before its own arrival, so before the last
// arrival's increment: no block can miss it. The count is back at 0 after every barrier and the
// generation only compares for equality, so bar can serve launch after launch without a reset.
//
// Every block of the grid must be resident at once, or the blocks that arrived wait forever for
// those not yet scheduled: launch with CU_LAUNCH_ATTRIBUTE_COOPERATIVE (the driver then refuses a
// grid that cannot be co-resident; gomlxgrpo/cuda/gridbarrier.go), at most the occupancy's blocks
// per SM. The kernel emulator runs such a launch's blocks concurrently (emuLaunchConcurrent).
#pragma once
#include "common.cuh"

#ifdef KERNEL_EMULATOR
__device__ __forceinline__ unsigned int ld_acquire_gpu(const unsigned int* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
__device__ __forceinline__ void st_release_gpu(unsigned int* p, unsigned int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
__device__ __forceinline__ void grid_spin_pause() { emuYield(); }
#else
__device__ __forceinline__ unsigned int ld_acquire_gpu(const unsigned int* p) {
  unsigned int v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ void st_release_gpu(unsigned int* p, unsigned int v) {
  asm volatile("st.release.gpu.global.u32 [%0], %1;" ::"l"(p), "r"(v) : "memory");
}
__device__ __forceinline__ void grid_spin_pause() {}
#endif

__device__ __forceinline__ void grid_barrier(unsigned int* bar) {
  __syncthreads();  // the block's writes happen before thread 0's release (bar.sync orders the CTA)
  if (threadIdx.x == 0) {
    const unsigned int blocks = gridDim.x * gridDim.y * gridDim.z;
    const unsigned int gen = ld_acquire_gpu(&bar[1]);
    if (atomic_add_acq_rel(&bar[0], 1u) == blocks - 1) {
      bar[0] = 0u;  // ordered before the release below; the next arrivals acquire the generation first
      st_release_gpu(&bar[1], gen + 1u);
    } else {
      while (ld_acquire_gpu(&bar[1]) == gen) grid_spin_pause();
    }
  }
  __syncthreads();
}
