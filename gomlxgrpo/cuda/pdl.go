//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>
#include <string.h>

// gg_launch_ex launches f as cuLaunchKernel does, with programmatic dependent launch allowed when
// pdl is non-zero (CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION), and as a cooperative
// launch when coop is (CU_LAUNCH_ATTRIBUTE_COOPERATIVE: every block resident at once, or the
// driver refuses the launch; gridbarrier.go).
static CUresult gg_launch_ex(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned shared,
                             CUstream s, void** params, int pdl, int coop) {
	CUlaunchAttribute attr[2];
	memset(attr, 0, sizeof attr);
	int n = 0;
	if (pdl) {
		attr[n].id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
		attr[n++].value.programmaticStreamSerializationAllowed = 1;
	}
	if (coop) {
		attr[n].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
		attr[n++].value.cooperative = 1;
	}
	CUlaunchConfig cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.gridDimX = gx; cfg.gridDimY = gy; cfg.gridDimZ = gz;
	cfg.blockDimX = bx; cfg.blockDimY = 1; cfg.blockDimZ = 1;
	cfg.sharedMemBytes = shared;
	cfg.hStream = s;
	cfg.attrs = attr;
	cfg.numAttrs = n;
	return cuLaunchKernelEx(&cfg, f, params, NULL);
}

// gg_max_dynamic_shared lets f take up to bytes of dynamic shared memory per block (beyond the
// default 48 KiB: CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES).
static CUresult gg_max_dynamic_shared(CUfunction f, int bytes) {
	return cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"gorgonia.org/cu"
)

// Programmatic dependent launch (Hopper). A decode step is a chain of ~12 short kernels per layer,
// each waiting for the one before: at batch 8 most of a kernel's time is its start (launch, the
// blocks' set-up, the first loads of weights from memory) and its tail, not its reads (ncu: the
// NF4 matmuls reach 5–20% of DRAM throughput). Launched with
// CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION, a kernel's blocks start as soon as every
// block of the previous kernel has signalled (griddepcontrol.launch_dependents, which the kernels
// do first), set up and load their weights, then wait (griddepcontrol.wait) until the previous
// kernel has finished and its writes are visible (kernels/common.cuh). CUDA graphs keep these
// edges (driver ≥ 12.3). gorgonia.org/cu v0.9.6 has no cuLaunchKernelEx, hence this call.
//
// Only the decoder's launches (on its own stream, captured into the step's graph) use it, and only
// with GOMLXGRPO_PDL=1, read when a step is recorded: measured on an H100 (bench/RESULTS.md, ninth
// session) it took one Qwen2.5-1.5B layer's NF4 matmuls from 58.6 to 55.4 µs but the whole decode
// step did not gain, so it stays opt-in. Profiling (GOMLXGRPO_CUDA_PROFILE) never uses it, so that
// each kernel's time is its own.
func pdlOn() bool { return os.Getenv("GOMLXGRPO_PDL") == "1" }

// launchEx launches fn on the package's stream, with programmatic dependent launch when pdl.
// Arguments as cu.Function.Launch takes them: each a pointer to an 8-byte (or 4-byte) value.
func launchEx(fn cu.Function, grid [3]int, block, shared int, args []unsafe.Pointer, pdl bool) error {
	return launchAttrs(fn, grid, block, shared, args, pdl, false)
}

// launchAttrs is launchEx, also cooperative when coop.
func launchAttrs(fn cu.Function, grid [3]int, block, shared int, args []unsafe.Pointer, pdl, coop bool) error {
	n := max(len(args), 1)
	argv := C.malloc(C.size_t(8 * n)) // the values
	argp := C.malloc(C.size_t(8 * n)) // pointers to them, what the driver takes
	defer C.free(argv)
	defer C.free(argp)
	vals := unsafe.Slice((*uint64)(argv), n)
	ptrs := unsafe.Slice((*unsafe.Pointer)(argp), n)
	for i, a := range args {
		vals[i] = *(*uint64)(a) // as cu's Launch: 8 bytes; the driver reads the parameter's size
		ptrs[i] = unsafe.Pointer(&vals[i])
	}
	on, co := C.int(0), C.int(0)
	if pdl {
		on = 1
	}
	if coop {
		co = 1
	}
	f := *(*C.CUfunction)(unsafe.Pointer(&fn)) // cu.Function is a struct of one CUfunction
	r := C.gg_launch_ex(f, C.uint(grid[0]), C.uint(grid[1]), C.uint(grid[2]), C.uint(block), C.uint(shared),
		rawStream(stream), (*unsafe.Pointer)(argp), on, co)
	switch {
	case r == C.CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE:
		return fmt.Errorf("cuLaunchKernelEx: a cooperative grid of %d blocks of %d threads cannot be resident at once on this card (CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE): launch at most cooperativeBlocks", grid[0]*grid[1]*grid[2], block)
	case r != C.CUDA_SUCCESS && coop:
		return fmt.Errorf("cuLaunchKernelEx (cooperative) failed with CUresult %d", int(r))
	case r != C.CUDA_SUCCESS:
		return fmt.Errorf("cuLaunchKernelEx failed with CUresult %d (GOMLXGRPO_PDL=0 launches without programmatic dependent launch)", int(r))
	}
	return nil
}

// allowSharedMemory lets kernel name take up to bytes of dynamic shared memory per block (call on
// the context's thread; not while a stream is being captured). Above 48 KiB a kernel must opt in;
// the card's own limit (227 KiB on Hopper) still applies, and the driver refuses more.
func allowSharedMemory(name string, bytes int) error {
	fn, err := function(name)
	if err != nil {
		return err
	}
	f := *(*C.CUfunction)(unsafe.Pointer(&fn))
	if r := C.gg_max_dynamic_shared(f, C.int(bytes)); r != C.CUDA_SUCCESS {
		return fmt.Errorf("cuda: %s cannot take %d bytes of shared memory per block on this card (cuFuncSetAttribute: CUresult %d)", name, bytes, int(r))
	}
	return nil
}
