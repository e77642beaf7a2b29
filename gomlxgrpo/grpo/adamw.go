package grpo

import (
	"fmt"
	"path"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
)

// AdamW with global-norm clipping, as TRL's Trainer steps (torch.nn.utils.clip_grad_norm_, then
// torch.optim.AdamW), over all trainable variables at once, with the gradient accumulator and both
// moments each held in one flat float32 variable of N elements (N: the trainable elements, in
// store order):
//
//	‖g‖ = √Σ acc²,  c = min(1, max_grad_norm / (‖g‖ + 1e-6)),  g = c · acc   (no clipping: max_grad_norm ≤ 0)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	θ ← θ − lr · ( m/(1−β1ᵗ) / (√(v/(1−β2ᵗ)) + ε) + wd·θ )
//
// Why not GoMLX's optimizer.Adam: it keeps two moment variables per trainable variable, and the
// trainer one accumulator more, so a step's executables took and returned ~4 device buffers per
// adapter matrix (~1,600 for a 1.5B model's 392). PJRT's cost is per buffer, not per byte: on an
// H100 one AdamW executable over 400 variables of 2×2 floats took 17.1 ms a call, over one
// variable of 400 real-sized adapters' elements 0.69 ms (bench/RESULTS.md, round 86), and the
// GRPO step's optimizer 20–36 ms. The adapters stay one variable each: the CUDA decoder reads
// them in place.
type adamW struct {
	trainable []*gmodel.Variable
	offsets   []int // element offset of each trainable variable in the flat buffers
	n         int
	acc, m, v *gmodel.Variable // [n] float32
	step      *gmodel.Variable // int64 scalar: updates applied
}

// Store paths of the flat state. The accumulator is not part of the saved state (checkpoint.go).
const (
	accPath     = "/grpo/grad_acc"
	momentPath1 = "/grpo/adamw/exp_avg"
	momentPath2 = "/grpo/adamw/exp_avg_sq"
	adamStep    = "/grpo/adamw/step"
)

// newAdamW creates (or finds, after LoadState) the flat variables for trainable, which keeps its order.
func newAdamW(store *gmodel.Store, trainable []*gmodel.Variable) (*adamW, error) {
	o := &adamW{trainable: trainable}
	for _, v := range trainable {
		if v.Shape().DType != dtypes.Float32 {
			return nil, fmt.Errorf("adamw: trainable variable %s is %s; the optimizer keeps float32 adapters", v.Path(), v.Shape().DType)
		}
		o.offsets = append(o.offsets, o.n)
		o.n += v.Shape().Size()
	}
	var err error
	flat := func() *tensors.Tensor { return tensors.FromShape(shapes.Make(dtypes.Float32, o.n)) } // one tensor per variable: donated on update
	if o.acc, err = flatVariable(store, accPath, flat()); err != nil {
		return nil, err
	}
	if o.m, err = flatVariable(store, momentPath1, flat()); err != nil {
		return nil, err
	}
	if o.v, err = flatVariable(store, momentPath2, flat()); err != nil {
		return nil, err
	}
	if o.step, err = flatVariable(store, adamStep, tensors.FromScalar(int64(0))); err != nil {
		return nil, err
	}
	return o, nil
}

// flatVariable returns the store's variable at p, created with value zero if absent; an existing one
// must have zero's shape.
func flatVariable(store *gmodel.Store, p string, zero *tensors.Tensor) (*gmodel.Variable, error) {
	if v := store.GetVariable(p); v != nil {
		if !v.Shape().Equal(zero.Shape()) {
			return nil, fmt.Errorf("optimizer state %s has shape %s, this model's adapters need %s: the state belongs to another LoRA configuration", p, v.Shape(), zero.Shape())
		}
		return v, nil
	}
	v, err := store.CreateVariable(p, zero)
	if err != nil {
		return nil, err
	}
	v.SetTrainable(false)
	return v, nil
}

// accumulate adds the gradients (one per trainable variable, any float dtype) into the accumulator.
func (o *adamW) accumulate(grads []*Node) {
	g := grads[0].Graph()
	flat := make([]*Node, len(grads))
	for i, gr := range grads {
		flat[i] = Reshape(ConvertDType(gr, dtypes.Float32), -1)
	}
	o.acc.SetNodeValue(Add(o.acc.NodeValue(g), Concatenate(flat, 0)))
}

// apply builds one AdamW update from the accumulator at learning rate lr (float32 scalar), zeroes
// the accumulator and returns the gradient's global norm before clipping.
func (o *adamW) apply(lr *Node, cfg *Config) *Node {
	g := lr.Graph()
	f32 := func(x float64) *Node { return Scalar(g, dtypes.Float32, x) }
	acc := o.acc.NodeValue(g)
	norm := Sqrt(ReduceAllSum(Square(acc)))
	grad := acc
	if cfg.MaxGradNorm > 0 {
		grad = Mul(acc, Min(Div(f32(cfg.MaxGradNorm), AddScalar(norm, 1e-6)), f32(1)))
	}
	b1, b2 := cfg.AdamBeta1, cfg.AdamBeta2
	m := Add(MulScalar(o.m.NodeValue(g), b1), MulScalar(grad, 1-b1))
	v := Add(MulScalar(o.v.NodeValue(g), b2), MulScalar(Square(grad), 1-b2))
	step := AddScalar(o.step.NodeValue(g), 1)
	t := ConvertDType(step, dtypes.Float32)
	bc1, bc2 := OneMinus(Pow(f32(b1), t)), OneMinus(Pow(f32(b2), t))
	dir := Div(Div(m, bc1), AddScalar(Sqrt(Div(v, bc2)), cfg.AdamEpsilon))
	params := make([]*Node, len(o.trainable))
	for i, p := range o.trainable {
		params[i] = Reshape(p.NodeValue(g), -1)
	}
	theta := Concatenate(params, 0)
	if cfg.WeightDecay != 0 {
		dir = Add(dir, MulScalar(theta, cfg.WeightDecay))
	}
	theta = Sub(theta, Mul(lr, dir))
	for i, p := range o.trainable {
		n := p.Shape().Size()
		p.SetNodeValue(Reshape(Slice(theta, AxisRange(o.offsets[i], o.offsets[i]+n)), p.Shape().Dimensions...))
	}
	o.m.SetNodeValue(m)
	o.v.SetNodeValue(v)
	o.step.SetNodeValue(step)
	o.acc.SetNodeValue(ZerosLike(acc))
	return norm
}

// zero resets the accumulator (a step that failed or was skipped).
func (o *adamW) zero() {
	o.acc.MustSetValue(tensors.FromShape(o.acc.Shape()))
}

// Legacy state: GoMLX's optimizer.Adam kept, for a trainable variable at SCOPE/NAME, the moments at
// /AdamOptimizer/SCOPE/NAME_1st_moment and _2nd_moment and its step count at /AdamOptimizer/step
// (float32), beside /global_step and /optimizers/learning_rate (optimizer.LearningRateVar). States saved before
// the flat optimizer hold those.
const legacyAdamScope = "/AdamOptimizer"

func legacyMoment(v *gmodel.Variable, k int) string {
	return path.Join(legacyAdamScope, v.Scope(), fmt.Sprintf("%s_%s_moment", v.Name(), [...]string{"1st", "2nd"}[k]))
}

// adoptLegacy moves a legacy state's moments and step count (if the store holds them) into the flat
// variables, so that a run resumed from a state saved before this optimizer continues with its
// AdamW state, and deletes the legacy variables. A legacy state missing a moment of any trainable
// variable is an error: its moments would restart from zero without a word.
func (o *adamW) adoptLegacy(store *gmodel.Store) error {
	stepVar := store.GetVariable(path.Join(legacyAdamScope, "step"))
	if stepVar == nil {
		return nil
	}
	for k, dst := range []*gmodel.Variable{o.m, o.v} {
		flat := make([]float32, o.n)
		for i, tv := range o.trainable {
			lv := store.GetVariable(legacyMoment(tv, k))
			if lv == nil {
				return fmt.Errorf("the saved optimizer state (GoMLX Adam layout) has no %s: resume with the LoRA configuration it was saved with", legacyMoment(tv, k))
			}
			val, err := lv.Value()
			if err != nil {
				return err
			}
			vals, err := tensors.CopyFlatData[float32](val)
			if err != nil {
				return fmt.Errorf("legacy moment %s: %w", lv.Path(), err)
			}
			if len(vals) != tv.Shape().Size() {
				return fmt.Errorf("legacy moment %s has %d elements, %s has %d", lv.Path(), len(vals), tv.Path(), tv.Shape().Size())
			}
			copy(flat[o.offsets[i]:], vals)
		}
		if err := dst.SetValue(tensors.FromFlatDataAndDimensions(flat, o.n)); err != nil {
			return err
		}
	}
	sv, err := stepVar.Value()
	if err != nil {
		return err
	}
	steps, ok := sv.Value().(float32) // the trainer built GoMLX's Adam with DType(Float32)
	if !ok {
		return fmt.Errorf("legacy optimizer step %s holds %T, not the float32 the trainer kept", stepVar.Path(), sv.Value())
	}
	if err := o.step.SetValue(tensors.FromScalar(int64(steps))); err != nil {
		return err
	}
	if err := store.DeleteVariablesInScope(legacyAdamScope); err != nil {
		return err
	}
	for _, p := range []string{"/global_step", "/optimizers/learning_rate"} {
		if store.GetVariable(p) != nil {
			if err := store.DeleteVariable(p); err != nil {
				return err
			}
		}
	}
	return nil
}
