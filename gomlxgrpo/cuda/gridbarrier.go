//go:build cuda

package cuda

import (
	"unsafe"

	"gorgonia.org/cu"
)

// The grid-wide barrier (kernels/grid_barrier.cuh), the building block of a persistent decode
// kernel: one launch per step whose phases (a layer's matmuls, norms, attention) wait on each
// other at a barrier instead of at kernel boundaries. These launchers serve its test
// (TestGridBarrier) and its timing on a card (BenchmarkGridBarrier); no decode path uses it yet.

// cooperativeBlocks is the most blocks of threads threads (and shared bytes of dynamic shared
// memory) of kernel name that can be resident at once on the card (the occupancy's blocks per SM ×
// SMs), the largest grid a cooperative launch of it takes.
func cooperativeBlocks(name string, threads, shared int) (int, error) {
	var n int
	err := onContext(func() error {
		fn, err := function(name)
		if err != nil {
			return err
		}
		per, err := fn.MaxActiveBlocksPerMultiProcessor(threads, int64(shared))
		n = per * multiprocessors()
		return err
	})
	return n, err
}

// launchCooperative launches kernel name with every block resident at once (cuLaunchKernelEx with
// CU_LAUNCH_ATTRIBUTE_COOPERATIVE) and shared bytes of dynamic shared memory, on the package's
// stream; arguments as launch takes them. Timed per kernel under GOMLXGRPO_CUDA_PROFILE=1, as launch.
func launchCooperative(name string, blocks, threads, shared int, args ...unsafe.Pointer) error {
	return onContext(func() error {
		fn, err := function(name)
		if err != nil {
			return err
		}
		run := func() error { return launchAttrs(fn, [3]int{blocks, 1, 1}, threads, shared, args, false, true) }
		if profile.on {
			return profiled(name, run)
		}
		return run()
	})
}

// GridChain runs grid_chain_u32: phases rounds of y[i] = 3·x[i] + x[(i+1) mod n] + x[(i+n/2) mod n]
// (uint32 [n], wrapping), x and y swapped after each, a grid barrier between rounds (bar: two
// uint32, zero before the first launch, left reusable). The result is in x after an even number of
// phases, in y after an odd one.
func GridChain(x, y cu.DevicePtr, n, phases, blocks, threads int, bar cu.DevicePtr) error {
	n32, p32 := int32(n), int32(phases)
	return launchCooperative("grid_chain_u32", blocks, threads, 0, p(&x), p(&y), p(&n32), p(&p32), p(&bar))
}

// GridBarrierLoop runs grid_barrier_loop: iters grid barriers and nothing else.
func GridBarrierLoop(bar cu.DevicePtr, iters, blocks, threads int) error {
	i32 := int32(iters)
	return launchCooperative("grid_barrier_loop", blocks, threads, 0, p(&bar), p(&i32))
}
