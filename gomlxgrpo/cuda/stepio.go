//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

static CUresult gg_alloc_host(void** p, size_t n) { return cuMemAllocHost(p, n); }
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"gorgonia.org/cu"
)

// stepIO is a decode step's traffic with the host through page-locked memory: the inputs
// (ids, positions, the mask, the cache and token indices) are written into one pinned block and
// copied to their device buffers with asynchronous copies on the decoder's stream, the step's
// graph is launched behind them, the tokens and log-probs come back by asynchronous copies behind
// the graph, and the host waits once. Why: Step's synchronous copies (5 uploads, 2 downloads, each
// a round trip through the driver with the GPU idle) sit between every two graph launches; at
// batch 8 a step is ~2.5 ms. Timed on an H100 (twentieth session, A/B in one process, Qwen2.5-1.5B
// shape NF4 + LoRA r=16, batch 8): 2.567 against 2.630 ms per step. gorgonia.org/cu v0.9.6 frees
// page-locked memory but cannot allocate it, hence cuMemAllocHost here.
//
// The default; GOMLXGRPO_STEP_IO=sync keeps the synchronous copies (read at Start).
type stepIO struct {
	host unsafe.Pointer // [ids B int32][pos B int32][widx int32][step int32][toks B int32][logps B float32][mask B·S bytes]
	B, S int
}

// pinnedStepIO reports whether Start sets up a stepIO: unless GOMLXGRPO_STEP_IO=sync.
func pinnedStepIO() bool { return os.Getenv("GOMLXGRPO_STEP_IO") != "sync" }

// newStepIO allocates the pinned block for B rows of S cache positions (call on the context's thread).
func newStepIO(B, S int) (*stepIO, error) {
	io := &stepIO{B: B, S: S}
	n := io.mask() + B*S
	if r := C.gg_alloc_host(&io.host, C.size_t(n)); r != C.CUDA_SUCCESS {
		return nil, fmt.Errorf("cuda: allocating %d bytes of page-locked memory for the decode step's copies failed with CUresult %d (GOMLXGRPO_STEP_IO=sync copies from pageable memory instead)", n, int(r))
	}
	return io, nil
}

// Offsets into host, in bytes.
func (io *stepIO) ids() int   { return 0 }
func (io *stepIO) pos() int   { return 4 * io.B }
func (io *stepIO) widx() int  { return 8 * io.B }
func (io *stepIO) step() int  { return 8*io.B + 4 }
func (io *stepIO) toks() int  { return 8*io.B + 8 }
func (io *stepIO) logps() int { return 12*io.B + 8 }
func (io *stepIO) mask() int  { return 16*io.B + 8 }

func (io *stepIO) at(off int) unsafe.Pointer { return unsafe.Add(io.host, off) }

// maskBytes is the pinned mask [B·S], which Step fills in place before run uploads it.
func (io *stepIO) maskBytes() []byte { return unsafe.Slice((*byte)(io.at(io.mask())), io.B*io.S) }

// run stages the step's other inputs beside the mask (maskBytes, already filled), uploads them,
// launches the step (launch: the graph, or the recorded launches) and downloads the tokens and
// log-probs, all on s, then waits for s.
func (io *stepIO) run(s cu.Stream, buf map[string]cu.DevicePtr, ids, pos []int32, writeIdx, step int, launch func() error) (toks []int32, lps []float32, err error) {
	B := io.B
	copy(unsafe.Slice((*int32)(io.at(io.ids())), B), ids)
	copy(unsafe.Slice((*int32)(io.at(io.pos())), B), pos)
	*(*int32)(io.at(io.widx())) = int32(writeIdx)
	*(*int32)(io.at(io.step())) = int32(step)
	err = onContext(func() error {
		for _, c := range []struct {
			name     string
			off, len int
		}{{"ids", io.ids(), 4 * B}, {"pos", io.pos(), 4 * B}, {"valid", io.mask(), B * io.S}, {"widx", io.widx(), 4}, {"step", io.step(), 4}} {
			if err := cu.MemcpyHtoDAsync(buf[c.name], io.at(c.off), int64(c.len), s); err != nil {
				return fmt.Errorf("uploading %s: %w", c.name, err)
			}
		}
		return nil
	})
	if err == nil {
		err = launch()
	}
	if err == nil {
		err = onContext(func() error {
			if err := cu.MemcpyDtoHAsync(io.at(io.toks()), buf["tokens"], int64(4*B), s); err != nil {
				return err
			}
			return cu.MemcpyDtoHAsync(io.at(io.logps()), buf["logps"], int64(4*B), s)
		})
	}
	if err == nil {
		err = syncStream(s)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("cuda decode step: %w", err)
	}
	toks, lps = make([]int32, B), make([]float32, B)
	copy(toks, unsafe.Slice((*int32)(io.at(io.toks())), B))
	copy(lps, unsafe.Slice((*float32)(io.at(io.logps())), B))
	return toks, lps, nil
}

// free releases the pinned block (call on the context's thread).
func (io *stepIO) free() {
	if io != nil && io.host != nil {
		_ = cu.MemFreeHost(io.host)
		io.host = nil
	}
}
