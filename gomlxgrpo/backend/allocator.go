package backend

import (
	"sync"

	"github.com/gomlx/compute"
)

// AllocatorStats is the device memory a process's allocations hold, as opposed to what the card
// reports in use (nvidia-smi), which adds the CUDA context and whatever XLA's BFC allocator keeps
// pooled. InUse/PeakInUse are the analog of PyTorch's torch.cuda.memory_allocated /
// max_memory_allocated, the figure transformers + PEFT report; Pool/PeakPool that of
// memory_reserved / max_memory_reserved. All in bytes; peaks since the process started; a field
// the platform does not report is -1.
type AllocatorStats struct {
	// XLA's allocator (PJRT_Device_MemoryStats).
	InUse, PeakInUse, Pool, PeakPool int64
	// Kernels are the device buffers the CUDA kernels allocate themselves with cuMemAlloc (the
	// decoder's activations, split-K partials), outside XLA's allocator; the KV caches, weights
	// and adapters are XLA buffers and count above.
	Kernels, PeakKernels int64
}

var (
	kernelMu sync.Mutex
	kernelFn func() (now, peak int64)
)

// RegisterKernelMemory installs the count of device memory allocated outside XLA (the cuda build
// tag's kernels), added to Allocator's figures.
func RegisterKernelMemory(f func() (now, peak int64)) {
	kernelMu.Lock()
	defer kernelMu.Unlock()
	kernelFn = f
}

// Allocator returns be's allocator statistics (XLA's, through PJRT, plus the kernels' own), and
// false where none are available: a backend other than XLA, or a PJRT plugin without them.
func Allocator(be compute.Backend) (AllocatorStats, bool) {
	if !IsXLA(be) {
		return AllocatorStats{}, false
	}
	s, err := pjrtStats(be)
	if err != nil {
		return AllocatorStats{}, false
	}
	kernelMu.Lock()
	f := kernelFn
	kernelMu.Unlock()
	if f != nil {
		s.Kernels, s.PeakKernels = f()
	}
	return s, true
}
