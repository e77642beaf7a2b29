//go:build cuda

package cuda

/*
#cgo LDFLAGS: -lcuda
#include <cuda.h>

static CUresult gg_begin(CUstream s) { return cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED); }
static CUresult gg_end(CUstream s, CUgraph* g) { return cuStreamEndCapture(s, g); }
static CUresult gg_instantiate(CUgraphExec* e, CUgraph g) { return cuGraphInstantiateWithFlags(e, g, 0); }
static CUresult gg_launch(CUgraphExec e, CUstream s) { return cuGraphLaunch(e, s); }
static CUresult gg_sync(CUstream s) { return cuStreamSynchronize(s); }
static void gg_destroy(CUgraphExec e, CUgraph g) {
	if (e) cuGraphExecDestroy(e);
	if (g) cuGraphDestroy(g);
}
*/
import "C"

import (
	"fmt"
	"unsafe"

	"gorgonia.org/cu"
)

// gorgonia.org/cu v0.9.6 builds CUDA graphs node by node but cannot capture a stream nor launch
// an instantiated graph; these few driver calls do (the kernels are still cu's functions).

// stream is where this package's launches go: the null stream unless a Decoder is running, which
// uses its own stream so that one decode step can be captured into a CUDA graph and replayed with
// a single launch per token. Launches from this package are not meant to run concurrently.
var stream cu.Stream

func rawStream(s cu.Stream) C.CUstream { return *(*C.CUstream)(unsafe.Pointer(&s)) }

func check(r C.CUresult, what string) error {
	if r != C.CUDA_SUCCESS {
		return fmt.Errorf("cuda: %s failed with CUresult %d", what, int(r))
	}
	return nil
}

// stepGraph is one captured decode step.
type stepGraph struct {
	graph C.CUgraph
	exec  C.CUgraphExec
}

// capture records what record launches on s into a graph and instantiates it.
func capture(s cu.Stream, record func() error) (*stepGraph, error) {
	g := &stepGraph{}
	err := onContext(func() error {
		if err := check(C.gg_begin(rawStream(s)), "cuStreamBeginCapture"); err != nil {
			return err
		}
		splitK.Lock()
		splitK.capturing = true
		splitK.Unlock()
		recErr := record()
		splitK.Lock()
		splitK.capturing = false
		splitK.Unlock()
		if err := check(C.gg_end(rawStream(s), &g.graph), "cuStreamEndCapture"); err != nil {
			return err
		}
		if recErr != nil {
			return recErr
		}
		return check(C.gg_instantiate(&g.exec, g.graph), "cuGraphInstantiateWithFlags")
	})
	if err != nil {
		g.destroy()
		return nil, err
	}
	return g, nil
}

func (g *stepGraph) launch(s cu.Stream) error {
	return onContext(func() error { return check(C.gg_launch(g.exec, rawStream(s)), "cuGraphLaunch") })
}

func (g *stepGraph) destroy() {
	if g != nil {
		_ = onContext(func() error { C.gg_destroy(g.exec, g.graph); return nil })
	}
}

func syncStream(s cu.Stream) error {
	return onContext(func() error { return check(C.gg_sync(rawStream(s)), "cuStreamSynchronize") })
}
