// Kernels that test and time grid_barrier (grid_barrier.cuh), ahead of a persistent decode kernel.
// Both need every block resident at once: a cooperative launch (gomlxgrpo/cuda/gridbarrier.go).
#include "grid_barrier.cuh"

// grid_chain_u32: phases rounds of
//
//   y[i] = 3·x[i] + x[(i+1) mod n] + x[(i + n/2) mod n]   (uint32, wrapping)
//
// then x and y swap; the result is in x after an even number of phases, in y after an odd one.
// Each element reads two others that another block wrote in the previous phase (the next element
// and the one half the array away), so any block that passes grid_barrier early reads stale values
// and the result differs from the host's recurrence. A block takes elements blockIdx.x·blockDim.x +
// threadIdx.x + k·(gridDim.x·blockDim.x).
extern "C" __global__ void grid_chain_u32(unsigned int* x, unsigned int* y, int n, int phases, unsigned int* bar) {
  pdl_start();
  for (int p = 0; p < phases; p++) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
      y[i] = 3u * x[i] + x[(i + 1) % n] + x[(i + n / 2) % n];
    grid_barrier(bar);
    unsigned int* t = x;
    x = y;
    y = t;
  }
}

// grid_barrier_loop: iters barriers and nothing else, for timing one barrier on a card
// (gomlxgrpo/cuda BenchmarkGridBarrier: the time of iters barriers less that of none, over iters).
extern "C" __global__ void grid_barrier_loop(unsigned int* bar, int iters) {
  pdl_start();
  for (int k = 0; k < iters; k++) grid_barrier(bar);
}
