//go:build cuda

package cuda

import (
	"testing"

	"gorgonia.org/cu"
)

// TestL2Prefetch: l2_prefetch runs over ranges of several sizes (empty, a partial line, more lines
// than the grid has threads) and leaves the memory as it was; more ranges than a launch takes is
// an error. (That the lines reach L2 is timed, not tested: bench/gpu_round49.sh.)
func TestL2Prefetch(t *testing.T) {
	xlaBackend(t)
	data := make([]float32, 1<<20)
	for i := range data {
		data[i] = float32(i)
	}
	p := rawDevice(t, data)
	ranges := []ByteRange{{p, 4 << 20}, {p + 1000, 0}, {p + 4096, 100}, {p + 64, 1 << 20}}
	if err := L2Prefetch(ranges); err != nil {
		t.Fatal(err)
	}
	if err := Synchronize(); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, len(data))
	if err := onContext(func() error { return cu.MemcpyDtoH(unsafePtr(got), p, int64(4*len(got))) }); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if got[i] != data[i] {
			t.Fatalf("element %d is %v after the prefetch, was %v", i, got[i], data[i])
		}
	}
	if err := L2Prefetch(make([]ByteRange, l2PrefetchRanges+1)); err == nil {
		t.Errorf("L2Prefetch took %d ranges without an error", l2PrefetchRanges+1)
	}
}
