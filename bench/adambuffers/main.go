// Command adambuffers times one GoMLX optimizer.Adam executable (built as the GRPO trainer built it
// before gomlxgrpo/grpo/adamw.go: a gradient accumulator per variable, clipping's norm, the
// accumulators zeroed) over N float32 variables of one shape, to separate PJRT's per-buffer cost
// from the per-byte one (bench/RESULTS.md, round 86):
//
//	go build -o adambuffers ./bench/adambuffers
//	PROF=host.prof GOMLX_BACKEND=xla:<plugin> ./adambuffers N [ROWS COLS]   # {"vars":N,"shape":[..],"ms_per_call":..}
//
// PROF (optional) receives a Go CPU profile of the timed calls.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

func main() {
	n, _ := strconv.Atoi(os.Args[1])
	r, c := 2, 2
	if len(os.Args) > 3 {
		r, _ = strconv.Atoi(os.Args[2])
		c, _ = strconv.Atoi(os.Args[3])
	}
	be, err := backend.Default()
	if err != nil {
		panic(err)
	}
	store := gmodel.NewStore()
	var vars, accs []*gmodel.Variable
	for i := range n {
		v, _ := store.CreateVariable(fmt.Sprintf("/w%d", i), tensors.FromShape(shapes.Make(dtypes.Float32, r, c)))
		v.SetTrainable(true)
		vars = append(vars, v)
		a, _ := store.CreateVariable(fmt.Sprintf("/acc/w%d", i), tensors.FromShape(shapes.Make(dtypes.Float32, r, c)))
		a.SetTrainable(false)
		accs = append(accs, a)
	}
	opt := optimizer.Adam().LearningRate(1e-3).DType(dtypes.Float32).Done().(interface {
		UpdateGraphWithGradients(scope *gmodel.Scope, grads []*Node, lossDType dtypes.DType)
	})
	exec, err := gmodel.NewExec(be, store, func(scope *gmodel.Scope, lr *Node) *Node {
		g := lr.Graph()
		grads := make([]*Node, n)
		sq := ScalarZero(g, dtypes.Float32)
		for i, acc := range accs {
			grads[i] = acc.NodeValue(g)
			sq = Add(sq, ReduceAllSum(Square(grads[i])))
		}
		for _, v := range vars {
			_ = v.NodeValue(g)
		}
		optimizer.LearningRateVarWithValue(scope.Store().RootScope(), dtypes.Float32, 1e-3).SetNodeValue(lr)
		opt.UpdateGraphWithGradients(scope.Store().RootScope(), grads, dtypes.Float32)
		for _, acc := range accs {
			acc.SetNodeValue(ZerosLike(acc.NodeValue(g)))
		}
		return Sqrt(sq)
	})
	if err != nil {
		panic(err)
	}
	for range 3 {
		if _, err := exec.Call(float32(1e-3)); err != nil {
			panic(err)
		}
	}
	if p := os.Getenv("PROF"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			panic(err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			panic(err)
		}
	}
	t := time.Now()
	const reps = 20
	for range reps {
		out, err := exec.Call(float32(1e-3))
		if err != nil {
			panic(err)
		}
		_ = tensors.ToScalar[float32](out[0])
	}
	pprof.StopCPUProfile()
	fmt.Printf("{\"vars\":%d,\"shape\":[%d,%d],\"ms_per_call\":%.3f}\n", n, r, c, float64(time.Since(t).Microseconds())/1000/reps)
}
