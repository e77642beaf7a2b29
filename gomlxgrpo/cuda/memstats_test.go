//go:build cuda

package cuda

import (
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

// TestAllocatorStats: a 256 MiB XLA buffer shows in XLA's bytes in use (to within 1 MiB) and peak, freeing it takes
// it out of bytes in use but not out of the peak, and a kernel-side allocation counts in Kernels
// until it is freed.
func TestAllocatorStats(t *testing.T) {
	be := xlaBackend(t)
	const n = 256 << 20
	s0, ok := backend.Allocator(be)
	if !ok {
		t.Fatal("no allocator statistics on the XLA CUDA backend")
	}
	tt, _ := zerosOnDevice(t, be, dtypes.Uint8, n)
	s1, _ := backend.Allocator(be)
	if got := s1.InUse - s0.InUse; got < n-(1<<20) || got > n+(1<<20) { // other small buffers come and go
		t.Errorf("bytes in use grew by %d for a %d-byte buffer (%+v then %+v)", got, n, s0, s1)
	}
	if s1.PeakInUse < s1.InUse {
		t.Errorf("peak in use %d below in use %d", s1.PeakInUse, s1.InUse)
	}
	tt.FinalizeAll()
	s2, _ := backend.Allocator(be)
	if s2.InUse > s1.InUse-n+(1<<20) || s2.PeakInUse < s1.InUse {
		t.Errorf("after freeing: %+v (before: %+v)", s2, s1)
	}
	if err := onContext(func() error {
		p, err := memAlloc(n)
		if err != nil {
			return err
		}
		s3, _ := backend.Allocator(be)
		if s3.Kernels-s2.Kernels != n || s3.PeakKernels < s3.Kernels {
			t.Errorf("kernel allocations: %+v then %+v for %d bytes", s2, s3, n)
		}
		return memFree(p, n)
	}); err != nil {
		t.Fatal(err)
	}
	if s4, _ := backend.Allocator(be); s4.Kernels != s2.Kernels {
		t.Errorf("kernel bytes %d after freeing, %d before", s4.Kernels, s2.Kernels)
	}
}
