// Package lora adds LoRA adapters to a model's projections, PEFT-compatible on disk.
//
//	y = x·Wᵀ + s · dropout(x)·Aᵀ·Bᵀ,   A [r, In], B [Out, r],   s = α/r  (rsLoRA: α/√r)
//
// Initialization is PEFT's default (init_lora_weights=True): A ~ kaiming_uniform(a=√5), i.e.
// U(-1/√In, 1/√In), and B = 0, so a fresh adapter leaves the model unchanged.
// (peft/tuners/lora/layer.py: LoraLayer.reset_lora_parameters.)
package lora

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// Config is PEFT's LoraConfig subset that we implement.
type Config struct {
	R             int      `json:"r"`
	Alpha         float64  `json:"lora_alpha"`
	Dropout       float64  `json:"lora_dropout"`
	TargetModules []string `json:"target_modules"` // e.g. q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj
	UseRSLoRA     bool     `json:"use_rslora"`
	Seed          uint64   `json:"-"` // initialization seed for A
}

// AllProjections are the 7 projections Unsloth's notebooks target.
var AllProjections = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// Scale is s = α/r, or α/√r with rsLoRA.
func (c Config) Scale() float64 {
	if c.UseRSLoRA {
		return c.Alpha / math.Sqrt(float64(c.R))
	}
	return c.Alpha / float64(c.R)
}

// Adapter is one LoRA pair on a Linear.
type Adapter struct {
	Module string           // HF module name, e.g. "model.layers.0.self_attn.q_proj"
	A      *gmodel.Variable // [r, In]
	B      *gmodel.Variable // [Out, r]
	Linear *model.Linear
}

// Adapters is the set of adapters attached to a model.
type Adapters struct {
	Config Config
	List   []*Adapter
	m      *model.Model
	// Training turns dropout on (when Dropout > 0).
	Training bool
}

// phi3Fused maps Unsloth/PEFT short names onto Phi-3's fused modules, as PEFT's target mapping does:
// any of q/k/v targets qkv_proj, gate or up targets gate_up_proj.
var phi3Fused = map[string]string{"q_proj": "qkv_proj", "k_proj": "qkv_proj", "v_proj": "qkv_proj", "gate_proj": "gate_up_proj", "up_proj": "gate_up_proj"}

// Attach creates adapters on every projection whose module name ends in one of cfg.TargetModules
// and wires them into the model's forward pass. Adapter variables are the only trainable ones.
func Attach(m *model.Model, cfg Config) (*Adapters, error) {
	if cfg.R <= 0 {
		return nil, fmt.Errorf("lora: r must be positive, got %d", cfg.R)
	}
	if cfg.Alpha == 0 {
		cfg.Alpha = float64(cfg.R)
	}
	if len(cfg.TargetModules) == 0 {
		cfg.TargetModules = AllProjections
	}
	want := map[string]bool{}
	for _, t := range cfg.TargetModules {
		want[t] = true
		if m.Config.Architecture == hf.Phi3 {
			if f, ok := phi3Fused[t]; ok {
				want[f] = true
			}
		}
	}
	ad := &Adapters{Config: cfg, m: m}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x10AA))
	matched := map[string]bool{}
	for _, l := range m.Linears() {
		short := l.Name[strings.LastIndex(l.Name, ".")+1:]
		if !want[short] {
			continue
		}
		matched[short] = true
		a := tensors.FromShape(shapes.Make(dtypes.Float32, cfg.R, l.In))
		bound := 1 / math.Sqrt(float64(l.In))
		tensors.MustMutableFlatData(a, func(flat []float32) {
			for i := range flat {
				flat[i] = float32((2*rng.Float64() - 1) * bound)
			}
		})
		b := tensors.FromShape(shapes.Make(dtypes.Float32, l.Out, cfg.R))
		va, err := m.Store.CreateVariable(varPath(l.Name, "lora_A"), a)
		if err != nil {
			return nil, err
		}
		vb, err := m.Store.CreateVariable(varPath(l.Name, "lora_B"), b)
		if err != nil {
			return nil, err
		}
		va.SetTrainable(true)
		vb.SetTrainable(true)
		ad.List = append(ad.List, &Adapter{Module: l.Name, A: va, B: vb, Linear: l})
	}
	for _, t := range cfg.TargetModules {
		if !matched[t] && !(m.Config.Architecture == hf.Phi3 && matched[phi3Fused[t]]) {
			return nil, fmt.Errorf("lora: target module %q matches no projection of this %s model", t, m.Config.Architecture)
		}
	}
	for _, a := range ad.List {
		ad.wire(a)
	}
	return ad, nil
}

// varPath is the store path of an adapter variable: /lora/<module with / for .>/lora_A.
func varPath(module, which string) string {
	return "/lora/" + strings.ReplaceAll(module, ".", "/") + "/" + which
}

// wire installs the adapter's delta into its Linear's forward:
//
//	Δy = s · (dropout(x) · Aᵀ) · Bᵀ   with x [..., In] → [..., Out], computed in float32.
func (ad *Adapters) wire(a *Adapter) {
	scale := ad.Config.Scale()
	a.Linear.LoRAA, a.Linear.LoRAB, a.Linear.LoRAScale = a.A, a.B, scale
	a.Linear.Adapter = func(x *Node, param func(*gmodel.Variable) *Node) *Node {
		g := x.Graph()
		xf := ConvertDType(x, dtypes.Float32)
		if ad.Training && ad.Config.Dropout > 0 {
			keep := 1 - ad.Config.Dropout
			mask := ad.m.Store.RootScope().RandomBernoulli(Scalar(g, dtypes.Float32, keep), xf.Shape())
			xf = MulScalar(Where(mask, xf, ZerosLike(xf)), 1/keep)
		}
		h := EinsumAxes(xf, param(a.A), [][2]int{{xf.Rank() - 1, 1}}, nil) // [..., r]
		d := EinsumAxes(h, param(a.B), [][2]int{{h.Rank() - 1, 1}}, nil)   // [..., Out]
		return MulScalar(d, scale)
	}
}

// Variables returns the trainable variables (A then B for each adapter, in module order).
func (ad *Adapters) Variables() []*gmodel.Variable {
	var out []*gmodel.Variable
	for _, a := range ad.List {
		out = append(out, a.A, a.B)
	}
	return out
}

// NumParameters counts adapter parameters.
func (ad *Adapters) NumParameters() int {
	n := 0
	for _, a := range ad.List {
		n += a.A.Shape().Size() + a.B.Shape().Size()
	}
	return n
}

// Modules lists the short module names that carry adapters (e.g. q_proj), sorted, as PEFT writes target_modules.
func (ad *Adapters) Modules() []string {
	set := map[string]bool{}
	for _, a := range ad.List {
		set[a.Module[strings.LastIndex(a.Module, ".")+1:]] = true
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
