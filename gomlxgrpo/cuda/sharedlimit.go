//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// setSharedLimit raises fn's dynamic shared memory limit to bytes
// (CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES): a launch gets at most 48 KiB without it, up to
// 227 KiB on Hopper with it. gorgonia.org/cu v0.9.6 reads function attributes but cannot set them,
// hence this call. Init applies sharedLimits to the kernels it loads.
func setSharedLimit(name string, fn cu.Function, bytes int) error {
	f := *(*C.CUfunction)(unsafe.Pointer(&fn)) // cu.Function is a struct of one CUfunction
	if r := C.cuFuncSetAttribute(f, C.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, C.int(bytes)); r != C.CUDA_SUCCESS {
		return fmt.Errorf("cuda: kernel %s: raising its dynamic shared memory to %d bytes failed with CUresult %d (needs a GPU with that much shared memory per block: sm_90)", name, bytes, int(r))
	}
	return nil
}
