#include "emu.h"

thread_local dim3 threadIdx, blockIdx;
dim3 blockDim, gridDim;
EmuBlock* emuBlock;

void emuLaunch(dim3 grid, unsigned threads, size_t dynShared, const std::function<void()>& kernel) {
  gridDim = grid;
  blockDim = dim3{threads, 1, 1};
  for (unsigned bz = 0; bz < grid.z; bz++)
    for (unsigned by = 0; by < grid.y; by++)
      for (unsigned bx = 0; bx < grid.x; bx++) {
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
}
