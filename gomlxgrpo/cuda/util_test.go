//go:build cuda

package cuda

import (
	"testing"
	"unsafe"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"gorgonia.org/cu"
)

type bfloat16T = bfloat16.BFloat16

func bfloat16From(v float32) bfloat16T { return bfloat16.FromFloat32(v) }

// roundBF16 rounds v to the nearest bfloat16 (ties to even), as XLA's convert and the kernels do.
func roundBF16(v float32) float32 { return bfloat16.FromFloat32(v).Float32() }

func unsafePtr(s []float32) unsafe.Pointer { return unsafe.Pointer(&s[0]) }

// readDevice copies what a kernel wrote into tt to the host and drops the host copy again, so that a
// later read after another kernel sees the device's new contents (GoMLX would otherwise serve the
// stale local copy: the first GPU run's residual check read the embedding it had read before).
func readDevice[T interface {
	int32 | uint32 | float32 | bfloat16T
}](tt *tensors.Tensor) []T {
	out := tensors.MustCopyFlatData[T](tt)
	tt.FinalizeLocal()
	return out
}

// ownStream makes a non-blocking stream the package's launch stream until the benchmark ends (a
// graph can only be captured from a stream other than the legacy one), then destroys it.
func ownStream(b *testing.B) cu.Stream {
	b.Helper()
	var s cu.Stream
	if err := onContext(func() (err error) { s, err = cu.MakeStream(cu.NonBlocking); return err }); err != nil {
		b.Fatal(err)
	}
	old := stream
	stream = s
	b.Cleanup(func() { stream = old; _ = onContext(func() error { return s.Destroy() }) })
	return s
}

// replay launches g n times on s and waits for them.
func replay(b *testing.B, s cu.Stream, g *stepGraph, n int) {
	b.Helper()
	for range n {
		if err := g.launch(s); err != nil {
			b.Fatal(err)
		}
	}
	if err := syncStream(s); err != nil {
		b.Fatal(err)
	}
}
