// l2_prefetch asks L2 for the bytes [p_m, p_m + n_m) of up to six ranges (n_m = 0: none), one
// 128-byte line per prefetch.global.L2::evict_last, and returns without waiting for them:
//
//   the ranges' lines in order (all of p0's, then p1's, …); thread t of the grid takes lines
//   t, t + T, t + 2T, … (T = all the grid's threads)
//
// Six: a q/k/v group's codes and scales. The decoder launches it (opt-in, GOMLXGRPO_L2_PREFETCH)
// just before a step's short kernels — RoPE and attention, a norm, the activation — for the weights
// of the NF4 matmul that follows them, so that those are on their way into L2 while the short
// kernels run. Why: at batch 8 the NF4 matmuls are bound by the latency of their weight loads, not
// by DRAM bandwidth (ncu, tenth session: ~1.25 eligible warps per scheduler, ~17% of stall samples
// on a block's first codes); L2 answers in about half the time, and DRAM idles during attention and
// the norms. No kernel of a decode step writes weights, so the prefetches go before pdl_wait.

#include "common.cuh"

#ifdef KERNEL_EMULATOR
__device__ __forceinline__ void prefetch_l2(const char* p) { emuPrefetchL2(p); }  // the emulator's test records the walk
#else
__device__ __forceinline__ void prefetch_l2(const char* p) { asm volatile("prefetch.global.L2::evict_last [%0];" ::"l"(p)); }
#endif

extern "C" __global__ void __launch_bounds__(256) l2_prefetch(const char* p0, long long n0, const char* p1, long long n1,
                                                              const char* p2, long long n2, const char* p3, long long n3,
                                                              const char* p4, long long n4, const char* p5, long long n5) {
  pdl_trigger();
  const char* ps[6] = {p0, p1, p2, p3, p4, p5};  // constant indices only (unrolled): registers
  const long long ns[6] = {n0, n1, n2, n3, n4, n5};
  long long lines[6], total = 0;
#pragma unroll
  for (int m = 0; m < 6; m++) {
    lines[m] = (ns[m] + 127) / 128;
    total += lines[m];
  }
  const long long T = (long long)gridDim.x * blockDim.x;
  for (long long l = (long long)blockIdx.x * blockDim.x + threadIdx.x; l < total; l += T) {
    long long k = l;
    const char* p = nullptr;
#pragma unroll
    for (int m = 0; m < 6; m++) {
      if (p == nullptr) {
        if (k < lines[m]) {
          p = ps[m] + 128 * k;
        } else {
          k -= lines[m];
        }
      }
    }
    prefetch_l2(p);
  }
  pdl_wait();  // the kernel after this one must not start before the one before it ends
}
