package grpo

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

type grpoGolden struct {
	B, T                int
	Mask                [][]float64 `json:"mask"`
	LogPs               [][]float64 `json:"logps"`
	Old                 [][]float64 `json:"old"`
	Ref                 [][]float64 `json:"ref"`
	Adv                 []float64   `json:"adv"`
	MaxCompletionLength int         `json:"max_completion_length"`
	GA                  int         `json:"ga"`
	NumItems            float64     `json:"num_items"`
	Losses              []struct {
		LossType   string      `json:"loss_type"`
		Level      string      `json:"level"`
		Beta       float64     `json:"beta"`
		UseOld     bool        `json:"use_old"`
		EpsLow     float64     `json:"eps_low"`
		EpsHigh    float64     `json:"eps_high"`
		Loss       float64     `json:"loss"`
		Grad       [][]float64 `json:"grad"`
		LowMean    float64     `json:"low_mean"`
		HighMean   float64     `json:"high_mean"`
		RegionMean float64     `json:"region_mean"`
		KL         *float64    `json:"kl"`
	} `json:"losses"`
	Advantages []struct {
		Scale          string       `json:"scale"`
		Weights        []float64    `json:"weights"`
		RewardsPerFunc [][]*float64 `json:"rewards_per_func"`
		Rewards        []*float64   `json:"rewards"`
		Advantages     []float64    `json:"advantages"`
		ZeroStd        []bool       `json:"zero_std"`
		G              int          `json:"G"`
	} `json:"advantages"`
}

func loadGRPOGolden(t *testing.T) *grpoGolden {
	data, err := os.ReadFile("testdata/grpo.golden.json")
	if err != nil {
		t.Fatalf("%v (run scripts/make_grpo_goldens.py)", err)
	}
	var g grpoGolden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func f32(x [][]float64) [][]float32 {
	out := make([][]float32, len(x))
	for i, r := range x {
		out[i] = make([]float32, len(r))
		for j, v := range r {
			out[i][j] = float32(v)
		}
	}
	return out
}

// TestLossMatchesTRL compares loss, its gradient w.r.t. the log-probs, KL and clip ratios with TRL's
// formulas in PyTorch for every loss type, both importance-sampling levels, β ∈ {0, 0.04}, and
// stored vs detached old log-probs.
func TestLossMatchesTRL(t *testing.T) {
	g := loadGRPOGolden(t)
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	advF := make([]float32, len(g.Adv))
	for i, v := range g.Adv {
		advF[i] = float32(v)
	}
	for _, c := range g.Losses {
		cfg := Defaults()
		cfg.LossType, cfg.ImportanceSamplingLevel, cfg.Beta = c.LossType, c.Level, c.Beta
		cfg.Epsilon, cfg.EpsilonHigh = c.EpsLow, c.EpsHigh
		cfg.GradientAccumulationSteps, cfg.MaxCompletionLength = g.GA, g.MaxCompletionLength
		useOld := c.UseOld
		exec := MustNewExec(be, func(lp, old, ref, mask, adv, items *Node) []*Node {
			in := &LossInputs{LogPs: lp, Mask: mask, Advantages: adv, NumItemsInBatch: items, RefLogPs: ref}
			if useOld {
				in.OldLogPs = old
			}
			out := Loss(&cfg, in)
			grad := Gradient(out.Loss, lp)[0]
			tok := out.Tokens
			return []*Node{out.Loss, grad, Div(out.LowClipSum, tok), Div(out.HighClipSum, tok), Div(out.RegionClipSum, tok), Div(out.KLSum, tok)}
		})
		res := exec.MustCall(f32(g.LogPs), f32(g.Old), f32(g.Ref), f32(g.Mask), advF, float32(g.NumItems))
		name := c.LossType + "/" + c.Level
		near := func(what string, got, want float64) {
			if math.Abs(got-want) > 1e-5*math.Max(1, math.Abs(want)) {
				t.Errorf("%s β=%g old=%v: %s = %.8g, TRL %.8g", name, c.Beta, c.UseOld, what, got, want)
			}
		}
		near("loss", float64(tensors.ToScalar[float32](res[0])), c.Loss)
		grad := tensors.MustCopyFlatData[float32](res[1])
		for i := range c.Grad {
			for j := range c.Grad[i] {
				near("grad", float64(grad[i*g.T+j]), c.Grad[i][j])
			}
		}
		if c.Level == "token" { // TRL's sequence-level metrics count sequences, not tokens
			near("clip_ratio/low_mean", float64(tensors.ToScalar[float32](res[2])), c.LowMean)
			near("clip_ratio/high_mean", float64(tensors.ToScalar[float32](res[3])), c.HighMean)
			near("clip_ratio/region_mean", float64(tensors.ToScalar[float32](res[4])), c.RegionMean)
		}
		if c.KL != nil {
			near("kl", float64(tensors.ToScalar[float32](res[5])), *c.KL)
		}
	}
	_ = dtypes.Float32
}

// TestAdvantagesMatchTRL checks group/batch/none scaling, reward weights, NaN (excluded) rewards, an
// unscorable completion and zero-std groups (advantage 0, never NaN).
func TestAdvantagesMatchTRL(t *testing.T) {
	g := loadGRPOGolden(t)
	for _, c := range g.Advantages {
		rpf := make([][]float64, len(c.RewardsPerFunc))
		for i, r := range c.RewardsPerFunc {
			rpf[i] = make([]float64, len(r))
			for k, v := range r {
				rpf[i][k] = math.NaN()
				if v != nil {
					rpf[i][k] = *v
				}
			}
		}
		a := ComputeAdvantages(rpf, c.Weights, c.G, c.Scale)
		for i := range c.Advantages {
			if math.IsNaN(a.Advantages[i]) || math.Abs(a.Advantages[i]-c.Advantages[i]) > 1e-9 {
				t.Errorf("%s %v: advantage[%d] = %v, TRL %v", c.Scale, c.Weights, i, a.Advantages[i], c.Advantages[i])
			}
			if a.ZeroStd[i] != c.ZeroStd[i] {
				t.Errorf("%s: zero_std[%d] = %v, TRL %v", c.Scale, i, a.ZeroStd[i], c.ZeroStd[i])
			}
			want := math.NaN()
			if c.Rewards[i] != nil {
				want = *c.Rewards[i]
			}
			if !(math.IsNaN(want) && math.IsNaN(a.Rewards[i])) && math.Abs(a.Rewards[i]-want) > 1e-12 {
				t.Errorf("%s: reward[%d] = %v, TRL %v", c.Scale, i, a.Rewards[i], want)
			}
		}
	}
}
