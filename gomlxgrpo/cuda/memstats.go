//go:build cuda

package cuda

import (
	"sync/atomic"

	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

func init() {
	backend.RegisterKernelMemory(func() (now, peak int64) { return kernelBytes.Load(), kernelPeak.Load() })
}

// kernelBytes and kernelPeak count the device memory this package allocates itself (memAlloc).
var kernelBytes, kernelPeak atomic.Int64

// memAlloc is cu.MemAlloc, counted in kernelBytes; free it with memFree and the same size.
func memAlloc(n int64) (cu.DevicePtr, error) {
	p, err := cu.MemAlloc(n)
	if err != nil {
		return 0, err
	}
	now := kernelBytes.Add(n)
	for {
		old := kernelPeak.Load()
		if now <= old || kernelPeak.CompareAndSwap(old, now) {
			break
		}
	}
	return p, nil
}

// memFree is cu.MemFree for a buffer of n bytes from memAlloc.
func memFree(p cu.DevicePtr, n int64) error {
	kernelBytes.Add(-n)
	return cu.MemFree(p)
}
