#include "emu.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
EmuBlock* emuBlock;

// emuRunBlock runs block (bx, by, bz) of the current launch: a thread per CUDA thread.
static void emuRunBlock(unsigned bx, unsigned by, unsigned bz, unsigned threads, size_t dynShared,
                        const std::function<void()>& kernel) {
  EmuBlock blk;
  std::barrier<> bar(threads);
  blk.block = &bar;
  unsigned nw = (threads + 31) / 32;
  std::vector<std::unique_ptr<std::barrier<>>> wb;
  for (unsigned w = 0; w < nw; w++) {
    wb.emplace_back(new std::barrier<>(std::min(32u, threads - 32 * w)));
    blk.warps.push_back(wb.back().get());
  }
  blk.warpbuf.assign(nw * 32, 0);
  blk.mmabuf.assign(nw * 32 * 6, 0);
  blk.dynShared.assign(dynShared + 16, 0);
  emuBlock = &blk;
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < threads; t++)
    ts.emplace_back([&, t] {
      threadIdx = dim3{t, 0, 0};
      blockIdx = dim3{bx, by, bz};
      kernel();
    });
  for (auto& th : ts) th.join();
}

void emuLaunch(dim3 grid, unsigned threads, size_t dynShared, const std::function<void()>& kernel) {
  gridDim = grid;
  blockDim = dim3{threads, 1, 1};
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) emuRunBlock(bx, by, bz, threads, dynShared, kernel);
}

bool emuLaunchConcurrent(dim3 grid, unsigned threads, size_t dynShared, const std::function<void()>& kernel) {
  gridDim = grid;
  blockDim = dim3{threads, 1, 1};
  std::vector<pid_t> kids;
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
        fflush(nullptr);
        const pid_t pid = fork();
        if (pid < 0) return false;
        if (pid == 0) {
          emuRunBlock(bx, by, bz, threads, dynShared, kernel);
          _exit(0);
        }
        kids.push_back(pid);
      }
  bool ok = true;
  for (pid_t pid : kids) {
    int status = 0;
    ok = waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
  }
  return ok;
}

void* emuSharedAlloc(size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;  // zero-filled
}
