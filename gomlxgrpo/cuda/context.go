//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/kernels"
)

var (
	initOnce sync.Once
	initErr  error
	ctx      cu.CUContext
	fns      = map[string]cu.Function{}
	sms      = 132 // multiprocessors of device 0, read at Init (132 on an H100 SXM or H200)
)

// multiprocessors returns device 0's multiprocessor count (after Init; 132 before).
func multiprocessors() int { return sms }

// Init retains device 0's primary context (the one XLA uses) and loads the kernels' PTX.
// (gorgonia.org/cu initializes the driver when the program starts and exits if there is none, so
// binaries built with the cuda tag need an NVIDIA driver.)
func Init() error {
	initOnce.Do(func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if ctx, initErr = cu.Device(0).RetainPrimaryCtx(); initErr != nil {
			initErr = fmt.Errorf("cuda: retaining the primary context: %w", initErr)
			return
		}
		if initErr = cu.SetCurrentContext(ctx); initErr != nil {
			return
		}
		if n, err := cu.Device(0).Attribute(cu.MultiprocessorCount); err == nil && n > 0 {
			sms = n
		}
		modules := map[string][]string{} // PTX → the kernels it defines
		for name, ptx := range kernels.All {
			modules[ptx] = append(modules[ptx], name)
		}
		dir := os.Getenv("GOMLXGRPO_PTX_DIR") // a developer's A/B of kernel builds (kernels.File)
		for ptx, names := range modules {
			if dir != "" {
				file := kernels.File(ptx) // every module has one (kernels.TestFile)
				if b, err := os.ReadFile(filepath.Join(dir, file)); err == nil {
					fmt.Fprintf(os.Stderr, "cuda: %s from %s (GOMLXGRPO_PTX_DIR)\n", file, dir)
					ptx = string(b)
				}
			}
			mod, err := cu.LoadData(ptx)
			if err != nil {
				initErr = fmt.Errorf("cuda: loading PTX with %v: %w (the driver must support PTX ISA 7.8 and sm_90)", names, err)
				return
			}
			for _, n := range names {
				if fns[n], err = mod.Function(n); err != nil {
					initErr = fmt.Errorf("cuda: kernel %s: %w", n, err)
					return
				}
			}
		}
	})
	return initErr
}

// onContext runs f on a locked OS thread with the shared context current (a CUDA context is
// current per thread, and goroutines move between threads).
func onContext(f func() error) error {
	if err := Init(); err != nil {
		return err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cu.SetCurrentContext(ctx); err != nil {
		return err
	}
	return f()
}

// Synchronize waits for all work in the shared context (XLA's and the kernels').
func Synchronize() error { return onContext(cu.Synchronize) }

// launch runs kernel name on this package's stream (see graph.go) with the given arguments.
func launch(name string, grid [3]int, block, shared int, args ...unsafe.Pointer) error {
	return onContext(func() error {
		fn, err := function(name)
		if err != nil {
			return err
		}
		if profile.on {
			return profiled(name, func() error { return fn.Launch(grid[0], grid[1], grid[2], block, 1, 1, shared, stream, args) })
		}
		if pdlOn() && stream != (cu.Stream{}) { // the decoder's stream (graph.go); lone launches as before
			return launchEx(fn, grid, block, shared, args, true)
		}
		return fn.Launch(grid[0], grid[1], grid[2], block, 1, 1, shared, stream, args)
	})
}

// function is the loaded kernel name (call on the context's thread).
func function(name string) (cu.Function, error) {
	fn, ok := fns[name]
	if !ok {
		return fn, fmt.Errorf("cuda: kernel %s is not loaded: add it to kernels.All", name)
	}
	return fn, nil
}

// p passes one kernel argument by address: a device pointer or a 32/64-bit scalar. gorgonia.org/cu's
// Launch copies 8 bytes from each address (the driver then takes the parameter's size), so nothing
// wider can be passed (kernels.TestLaunchArgumentsFit).
func p(v any) unsafe.Pointer {
	switch x := v.(type) {
	case *cu.DevicePtr:
		return unsafe.Pointer(x)
	case *int32:
		return unsafe.Pointer(x)
	case *int64:
		return unsafe.Pointer(x)
	case *float32:
		return unsafe.Pointer(x)
	}
	panic(fmt.Sprintf("cuda: unsupported kernel argument %T", v))
}
