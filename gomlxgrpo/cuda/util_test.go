//go:build cuda

package cuda

import (
	"unsafe"

	"github.com/gomlx/compute/dtypes/bfloat16"
)

type bfloat16T = bfloat16.BFloat16

func bfloat16From(v float32) bfloat16T { return bfloat16.FromFloat32(v) }

// roundBF16 rounds v to the nearest bfloat16 (ties to even), as XLA's convert and the kernels do.
func roundBF16(v float32) float32 { return bfloat16.FromFloat32(v).Float32() }

func unsafePtr(s []float32) unsafe.Pointer { return unsafe.Pointer(&s[0]) }
