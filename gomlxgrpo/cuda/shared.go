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

// allowLargeShared lets fn be launched with up to the device's opt-in shared memory per block
// (227 KiB on an H100) less its static shared memory. Without it a launch whose static and
// dynamic shared memory together pass 48 KiB fails: the warp-tile batch-8 NF4 forms hold a 32 KiB
// table statically (kernels/nf4_mma.cu, load_nf4_bytes) beside their slice of x (16.5 KiB at the
// default 8 chunks per warp). Raising the limit changes nothing for launches that ask for less.
// gorgonia.org/cu v0.9.6 has no cuFuncSetAttribute, hence cgo.
func allowLargeShared(fn cu.Function, optin int) error {
	static, err := fn.Attribute(cu.SharedSizeBytes)
	if err != nil {
		return err
	}
	if optin <= 48<<10 {
		return nil // the default already allows all the device has
	}
	f := *(*C.CUfunction)(unsafe.Pointer(&fn)) // cu.Function is a struct of one CUfunction
	if r := C.cuFuncSetAttribute(f, C.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, C.int(optin-static)); r != C.CUDA_SUCCESS {
		return fmt.Errorf("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, %d) failed with CUresult %d", optin-static, int(r))
	}
	return nil
}

// sharedOptin is device 0's opt-in shared memory per block (CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN).
func sharedOptin() (int, error) {
	return cu.Device(0).Attribute(cu.DeviceAttribute(C.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN))
}
