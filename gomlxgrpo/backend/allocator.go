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
	statsMu sync.Mutex
	statsFn func(compute.Backend) (AllocatorStats, error)
)

// RegisterAllocatorStats installs the query behind Allocator (the cuda build tag's package does,
// through PJRT's C API, which go-xla v0.4.4 does not wrap).
func RegisterAllocatorStats(f func(compute.Backend) (AllocatorStats, error)) {
	statsMu.Lock()
	defer statsMu.Unlock()
	statsFn = f
}

// Allocator returns be's allocator statistics, and false where none are available (the default
// build, or a backend other than XLA on a GPU).
func Allocator(be compute.Backend) (AllocatorStats, bool) {
	statsMu.Lock()
	f := statsFn
	statsMu.Unlock()
	if f == nil || !IsXLA(be) {
		return AllocatorStats{}, false
	}
	s, err := f(be)
	return s, err == nil
}
