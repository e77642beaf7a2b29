//go:build cuda

package cuda

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
)

// BenchmarkGraphOverhead measures the floor a decode step pays for its launches: K tiny kernels
// (residual_add over 256 elements) replayed as one captured CUDA graph, and launched one by one,
// per K-kernel step including the stream synchronization. A decode step of a 28-layer model is ~400
// to ~600 launches, so the per-kernel figure times that is the step time no kernel speed-up removes.
func BenchmarkGraphOverhead(b *testing.B) {
	be := xlaBackend(b)
	const n = 256
	_, px := zerosOnDevice(b, be, dtypes.BFloat16, n)
	_, py := zerosOnDevice(b, be, dtypes.Float32, n)
	s := ownStream(b)
	for _, k := range []int{100, 400} {
		record := func() error {
			for range k {
				if err := ResidualAdd(px, py, n); err != nil {
					return err
				}
			}
			return nil
		}
		g, err := capture(s, record)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("kernels=%d/graph", k), func(b *testing.B) {
			start := time.Now()
			for range b.N {
				if err := g.launch(s); err != nil {
					b.Fatal(err)
				}
				if err := syncStream(s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/1e3/float64(b.N*k), "us/kernel")
		})
		g.destroy()
		b.Run(fmt.Sprintf("kernels=%d/direct", k), func(b *testing.B) {
			start := time.Now()
			for range b.N {
				if err := record(); err != nil {
					b.Fatal(err)
				}
				if err := syncStream(s); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(time.Since(start).Nanoseconds())/1e3/float64(b.N*k), "us/kernel")
		})
	}
}
