// A CPU emulator for this project's CUDA kernels (kernels/*.cu): every CUDA thread of a block is a
// std::thread; __syncthreads is a block-wide barrier, warp shuffles exchange through a per-warp
// buffer between two warp barriers. Slow, but it runs the kernels' own source, so logic errors
// (indexing, reductions, bisections) show up on a machine without a GPU. Included before each .cu
// file (g++ -include emu.h -x c++). Memory-model and timing effects are not emulated.
#pragma once
#define KERNEL_EMULATOR
#include <algorithm>
#include <barrier>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
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
struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
extern thread_local dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

struct EmuBlock {
  std::barrier<>* block;
  std::vector<std::barrier<>*> warps;
  std::vector<unsigned long long> warpbuf;  // [warps][32]
  std::vector<unsigned> mmabuf;             // [warps][32][6]: each lane's A and B fragments
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

// emuShfl returns lane src's v for the calling thread's warp (every lane of the warp must call it).
template <class T>
inline T emuShfl(T v, unsigned src) {
  const unsigned t = threadIdx.x, w = t / 32, lane = t % 32;
  unsigned long long bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  emuBlock->warpbuf[w * 32 + lane] = bits;
  emuBlock->warps[w]->arrive_and_wait();
  unsigned long long other = emuBlock->warpbuf[w * 32 + src];
  emuBlock->warps[w]->arrive_and_wait();
  T r;
  std::memcpy(&r, &other, sizeof(T));
  return r;
}

template <class T>
inline T __shfl_xor_sync(unsigned, T v, int o) {
  return emuShfl(v, (threadIdx.x % 32) ^ o);
}

inline void __syncwarp(unsigned = 0xffffffffu) { emuBlock->warps[threadIdx.x / 32]->arrive_and_wait(); }

template <class T>
inline T __shfl_sync(unsigned, T v, int src) {
  return emuShfl(v, src);
}

inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline float __int_as_float(int i) { return std::bit_cast<float>(i); }
inline int __float_as_int(float f) { return std::bit_cast<int>(f); }
inline float __expf(float x) { return expf(x); }
// Blocks run one after another here (emuLaunch), so a block's writes are visible to the next
// without fences. atomicAdd is a real atomic, so that it also works between the processes of
// emuLaunchConcurrent's blocks on memory from emuSharedAlloc.
inline void __threadfence() {}
inline unsigned atomicAdd(unsigned* p, unsigned v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }

// emuYield: what a spinning thread does between two reads of a flag another block will set.
inline void emuYield() { std::this_thread::yield(); }

inline float __logf(float x) { return logf(x); }

// emuLaunch runs kernel() for every thread of every block of grid × block (one dimension of
// threads), with dynShared bytes of dynamic shared memory.
void emuLaunch(dim3 grid, unsigned threads, size_t dynShared, const std::function<void()>& kernel);

// emuLaunchConcurrent is emuLaunch with every block running at once, as a cooperative launch on a
// GPU guarantees (grid_barrier.cuh): each block in a process of its own (fork), so that its
// __shared__ statics and emuBlock are its own; the blocks' threads are threads of that process.
// Memory that blocks share (every kernel argument they write or read after another block wrote
// it) must come from emuSharedAlloc. Returns false when a block's process failed.
bool emuLaunchConcurrent(dim3 grid, unsigned threads, size_t dynShared, const std::function<void()>& kernel);

// emuSharedAlloc returns n zeroed bytes mapped shared between this process and the processes of
// later emuLaunchConcurrent calls (never freed: tests allocate a few).
void* emuSharedAlloc(size_t n);

// mma_bf16_16816 emulates mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 for the calling
// warp: every lane posts its fragments, each lane rebuilds A (16×16) and B (16×8) and computes its
// own four outputs, in the fragment layout documented in kernels/common.cuh (PTX ISA, "Matrix
// Fragments for mma.m16n8k16" with .bf16).
#define EMU_MMA
inline float emuBF16(unsigned h) {
  unsigned u = h << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline void mma_bf16_16816(float (&c)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
  const unsigned t = threadIdx.x, w = t / 32, lane = t % 32;
  unsigned* buf = &emuBlock->mmabuf[w * 32 * 6];
  for (int i = 0; i < 4; i++) buf[lane * 6 + i] = a[i];
  buf[lane * 6 + 4] = b[0];
  buf[lane * 6 + 5] = b[1];
  emuBlock->warps[w]->arrive_and_wait();
  float A[16][16], Bm[16][8];
  for (int l = 0; l < 32; l++) {
    const int g = l >> 2, q = l & 3;
    const unsigned* f = &buf[l * 6];
    const int rows[4] = {g, g + 8, g, g + 8}, cols[4] = {2 * q, 2 * q, 2 * q + 8, 2 * q + 8};
    for (int i = 0; i < 4; i++) {
      A[rows[i]][cols[i]] = emuBF16(f[i] & 0xffff);
      A[rows[i]][cols[i] + 1] = emuBF16(f[i] >> 16);
    }
    Bm[2 * q][g] = emuBF16(f[4] & 0xffff);
    Bm[2 * q + 1][g] = emuBF16(f[4] >> 16);
    Bm[2 * q + 8][g] = emuBF16(f[5] & 0xffff);
    Bm[2 * q + 9][g] = emuBF16(f[5] >> 16);
  }
  emuBlock->warps[w]->arrive_and_wait();
  const int g = lane >> 2, q = lane & 3;
  for (int i = 0; i < 4; i++) {
    const int row = g + (i >= 2 ? 8 : 0), col = 2 * q + (i & 1);
    float acc = 0.f;
    for (int k = 0; k < 16; k++) acc += A[row][k] * Bm[k][col];
    c[i] += acc;
  }
}
