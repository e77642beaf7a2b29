package grpo

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

type adamGolden struct {
	Shapes      [][]int       `json:"shapes"`
	MaxGradNorm float64       `json:"max_grad_norm"`
	Betas       []float64     `json:"betas"`
	Eps         float64       `json:"eps"`
	WeightDecay float64       `json:"weight_decay"`
	LRs         []float64     `json:"lrs"`
	Init        [][]float64   `json:"init"`
	Grads       [][][]float64 `json:"grads"`
	Steps       []struct {
		GradNorm float64     `json:"grad_norm"`
		Params   [][]float64 `json:"params"`
	} `json:"steps"`
}

func f32s(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}

// loadAdamGolden reads testdata/adamw.golden.json (scripts/make_adamw_goldens.py) and returns it
// with a Config of its optimizer settings.
func loadAdamGolden(t *testing.T) (*adamGolden, Config) {
	t.Helper()
	data, err := os.ReadFile("testdata/adamw.golden.json")
	if err != nil {
		t.Fatalf("%v (run scripts/make_adamw_goldens.py)", err)
	}
	var gd adamGolden
	if err := json.Unmarshal(data, &gd); err != nil {
		t.Fatal(err)
	}
	cfg := Defaults()
	cfg.MaxGradNorm, cfg.AdamBeta1, cfg.AdamBeta2, cfg.AdamEpsilon, cfg.WeightDecay = gd.MaxGradNorm, gd.Betas[0], gd.Betas[1], gd.Eps, gd.WeightDecay
	return &gd, cfg
}

// trainableStore makes a store with trainable float32 variables /lora/pI/A of the golden's shapes
// and initial values.
func trainableStore(t *testing.T, gd *adamGolden) (*gmodel.Store, []*gmodel.Variable) {
	t.Helper()
	store := gmodel.NewStore()
	var vars []*gmodel.Variable
	for i, s := range gd.Shapes {
		v, err := store.CreateVariable(fmt.Sprintf("/lora/p%d/A", i), tensors.FromFlatDataAndDimensions(f32s(gd.Init[i]), s...))
		if err != nil {
			t.Fatal(err)
		}
		v.SetTrainable(true)
		vars = append(vars, v)
	}
	return store, vars
}

// adamStore is trainableStore with the flat AdamW over its variables.
func adamStore(t *testing.T, gd *adamGolden) (*gmodel.Store, []*gmodel.Variable, *adamW) {
	t.Helper()
	store, vars := trainableStore(t, gd)
	opt, err := newAdamW(store, vars)
	if err != nil {
		t.Fatal(err)
	}
	return store, vars, opt
}

// testBackend is the backend the package's tests run on.
func testBackend(t *testing.T) compute.Backend {
	t.Helper()
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	return be
}

// addGrads is an executable adding fixed gradients (one input per variable) into the accumulator
// through adamW.accumulate, as the trainer's micro-batch executable does.
func addGrads(t *testing.T, store *gmodel.Store, opt *adamW) *gmodel.Exec {
	t.Helper()
	e, err := gmodel.NewExec(testBackend(t), store, func(scope *gmodel.Scope, in []*Node) *Node {
		opt.accumulate(in)
		return ReduceAllSum(in[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// applyExec is the flat AdamW's update as the trainer's apply executable builds it (input: lr).
func applyExec(t *testing.T, store *gmodel.Store, opt *adamW, cfg *Config) *gmodel.Exec {
	t.Helper()
	e, err := gmodel.NewExec(testBackend(t), store, func(scope *gmodel.Scope, lr *Node) *Node { return opt.apply(lr, cfg) })
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// gomlxAdamStep is one step of GoMLX's optimizer.Adam over vars, built as the trainer built it
// before adamw.go (the learning rate in optimizer.LearningRateVar), gradients as inputs:
// Call(lr, grads...).
func gomlxAdamStep(t *testing.T, store *gmodel.Store, vars []*gmodel.Variable, cfg *Config) *gmodel.Exec {
	t.Helper()
	adam := optimizer.Adam().LearningRate(cfg.LearningRate).Betas(cfg.AdamBeta1, cfg.AdamBeta2).Epsilon(cfg.AdamEpsilon).
		WeightDecay(cfg.WeightDecay).DType(dtypes.Float32).Done().(interface {
		UpdateGraphWithGradients(scope *gmodel.Scope, grads []*Node, lossDType dtypes.DType)
	})
	e, err := gmodel.NewExec(testBackend(t), store, func(scope *gmodel.Scope, in []*Node) *Node {
		lr, grads := in[0], in[1:]
		for _, v := range vars {
			_ = v.NodeValue(lr.Graph())
		}
		optimizer.LearningRateVarWithValue(scope.Store().RootScope(), dtypes.Float32, cfg.LearningRate).SetNodeValue(lr)
		adam.UpdateGraphWithGradients(scope.Store().RootScope(), grads, dtypes.Float32)
		return ReduceAllSum(grads[0])
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func gradInputs(gd *adamGolden, k int) []any {
	in := make([]any, len(gd.Shapes))
	for i, s := range gd.Shapes {
		in[i] = tensors.FromFlatDataAndDimensions(f32s(gd.Grads[k][i]), s...)
	}
	return in
}

// accumulated returns the accumulator split per trainable variable (flattened).
func (o *adamW) accumulated() [][]float32 {
	flat := tensors.MustCopyFlatData[float32](o.acc.MustValue())
	out := make([][]float32, len(o.trainable))
	for i, v := range o.trainable {
		out[i] = flat[o.offsets[i] : o.offsets[i]+v.Shape().Size()]
	}
	return out
}

// TestAdamWMatchesTorch runs the flat AdamW (global-norm clipping, decoupled weight decay, the
// learning rate changing per step) for five steps against torch.optim.AdamW after
// clip_grad_norm_ (testdata/adamw.golden.json, scripts/make_adamw_goldens.py), the gradients
// added through the accumulator in two halves, as two micro-batches would.
func TestAdamWMatchesTorch(t *testing.T) {
	gd, cfg := loadAdamGolden(t)
	store, vars, opt := adamStore(t, gd)
	add, apply := addGrads(t, store, opt), applyExec(t, store, opt, &cfg)
	for k, want := range gd.Steps {
		half := gradInputs(gd, k)
		for i := range half { // two micro-batches of half the gradient each (exact in float32: a power of 2)
			x := tensors.MustCopyFlatData[float32](half[i].(*tensors.Tensor))
			for j := range x {
				x[j] /= 2
			}
			half[i] = tensors.FromFlatDataAndDimensions(x, gd.Shapes[i]...)
		}
		for range 2 {
			if _, err := add.Call(half...); err != nil {
				t.Fatal(err)
			}
		}
		out, err := apply.Call(float32(gd.LRs[k]))
		if err != nil {
			t.Fatal(err)
		}
		if norm := float64(tensors.ToScalar[float32](out[0])); math.Abs(norm-want.GradNorm) > 1e-5*want.GradNorm {
			t.Fatalf("step %d: gradient norm %g, torch %g", k+1, norm, want.GradNorm)
		}
		for i, v := range vars {
			got := tensors.MustCopyFlatData[float32](v.MustValue())
			for j, w := range want.Params[i] {
				if d := math.Abs(float64(got[j]) - w); d > 2e-6*math.Max(1, math.Abs(w)) || math.IsNaN(d) {
					t.Fatalf("step %d, %s[%d]: %g, torch %g", k+1, v.Path(), j, got[j], w)
				}
			}
		}
		for _, a := range opt.accumulated() {
			for _, x := range a {
				if x != 0 {
					t.Fatalf("step %d: the accumulator was not zeroed", k+1)
				}
			}
		}
	}
	if s := tensors.ToScalar[int64](opt.step.MustValue()); s != int64(len(gd.Steps)) {
		t.Fatalf("step counter %d after %d updates", s, len(gd.Steps))
	}
}

// TestAdamWAdoptsGoMLXAdamState checks a resume from a state saved before the flat optimizer:
// two steps of GoMLX's own optimizer.Adam (the trainer's previous optimizer, same settings), its
// moments and step count adopted by the flat AdamW, then a third step by each; the parameters must
// agree as if one optimizer had run all three steps, and the legacy variables must be gone.
func TestAdamWAdoptsGoMLXAdamState(t *testing.T) {
	gd, cfg := loadAdamGolden(t)
	cfg.MaxGradNorm, cfg.LearningRate = 0, gd.LRs[0]
	// Legacy: GoMLX's Adam as the trainer built it, gradients fed directly.
	legacy, lvars := trainableStore(t, gd)
	legacyStep := gomlxAdamStep(t, legacy, lvars, &cfg)
	for k := range 2 {
		if _, err := legacyStep.Call(append([]any{float32(gd.LRs[k])}, gradInputs(gd, k)...)...); err != nil {
			t.Fatal(err)
		}
	}
	// The flat optimizer over a store holding the legacy state, as LoadState leaves it.
	if legacy.GetVariable(legacyMoment(lvars[0], 0)) == nil || legacy.GetVariable(legacyMoment(lvars[2], 1)) == nil {
		t.Fatalf("GoMLX's Adam did not keep its moments at %s: adamw.go's legacy names are out of date", legacyMoment(lvars[0], 0))
	}
	opt, err := newAdamW(legacy, lvars)
	if err != nil {
		t.Fatal(err)
	}
	if err := opt.adoptLegacy(legacy); err != nil {
		t.Fatal(err)
	}
	for v := range legacy.IterVariables() {
		if p := v.Path(); p != accPath && p != momentPath1 && p != momentPath2 && p != adamStep && !v.Trainable {
			t.Fatalf("legacy variable %s left in the store", p)
		}
	}
	if s := tensors.ToScalar[int64](opt.step.MustValue()); s != 2 {
		t.Fatalf("adopted step count %d, want 2", s)
	}
	add, apply := addGrads(t, legacy, opt), applyExec(t, legacy, opt, &cfg)
	if _, err := add.Call(gradInputs(gd, 2)...); err != nil {
		t.Fatal(err)
	}
	if _, err := apply.Call(float32(gd.LRs[2])); err != nil {
		t.Fatal(err)
	}
	// Reference: GoMLX's Adam for all three steps in a fresh store.
	ref, rvars := trainableStore(t, gd)
	refStep := gomlxAdamStep(t, ref, rvars, &cfg)
	for k := range 3 {
		if _, err := refStep.Call(append([]any{float32(gd.LRs[k])}, gradInputs(gd, k)...)...); err != nil {
			t.Fatal(err)
		}
	}
	moved := 0.0
	for i := range lvars {
		got, want := tensors.MustCopyFlatData[float32](lvars[i].MustValue()), tensors.MustCopyFlatData[float32](rvars[i].MustValue())
		for j := range want {
			if d := math.Abs(float64(got[j] - want[j])); d > 1e-6*math.Max(1, math.Abs(float64(want[j]))) || math.IsNaN(d) {
				t.Fatalf("%s[%d] after the adopted step: %g, GoMLX Adam %g", lvars[i].Path(), j, got[j], want[j])
			}
			moved = math.Max(moved, math.Abs(float64(want[j])-gd.Init[i][j]))
		}
	}
	if moved == 0 {
		t.Fatal("the parameters did not move")
	}
}
