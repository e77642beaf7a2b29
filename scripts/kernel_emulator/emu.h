// A CPU emulator for this project's CUDA kernels (kernels/*.cu): every CUDA thread of a block is a
// std::thread; __syncthreads is a block-wide barrier, warp shuffles exchange through a per-warp
// buffer between two warp barriers. Slow, but it runs the kernels' own source, so logic errors
// (indexing, reductions, bisections) show up on a machine without a GPU. Included before each .cu
// file (g++ -include emu.h -x c++). Memory-model and timing effects are not emulated.
#pragma once
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};
struct uint4 {
  unsigned x, y, z, w;
};
struct uint2 {
  unsigned x, y;
};
extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

struct EmuBlock {
  std::barrier<>* block;
  std::vector<std::barrier<>*> warps;
  std::vector<unsigned long long> warpbuf;  // [warps][32]
  std::vector<char> dynShared;
};
extern EmuBlock* emuBlock;

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(emuBlock->dynShared.data())

using std::max;
using std::min;

inline void __syncthreads() { emuBlock->block->arrive_and_wait(); }

template <class T>
inline T __shfl_xor_sync(unsigned, T v, int o) {
  const unsigned t = threadIdx.x, w = t / 32, lane = t % 32;
  unsigned long long bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  emuBlock->warpbuf[w * 32 + lane] = bits;
  emuBlock->warps[w]->arrive_and_wait();
  unsigned long long other = emuBlock->warpbuf[w * 32 + (lane ^ o)];
  emuBlock->warps[w]->arrive_and_wait();
  T r;
  std::memcpy(&r, &other, sizeof(T));
  return r;
}

inline unsigned __float_as_uint(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float __uint_as_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }

// emuLaunch runs kernel() for every thread of every block of grid × block (one dimension of
// threads), with dynShared bytes of dynamic shared memory.
void emuLaunch(dim3 grid, unsigned threads, size_t dynShared, const std::function<void()>& kernel);
