//go:build cuda

package cuda

import (
	"unsafe"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlx/compute/dtypes/bfloat16"
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
	int32 | float32 | bfloat16T
}](tt *tensors.Tensor) []T {
	out := tensors.MustCopyFlatData[T](tt)
	tt.FinalizeLocal()
	return out
}
