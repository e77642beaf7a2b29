package grpo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// TestSharedPromptMatchesRows: the shared-prompt layout (each prompt once per micro-batch, its
// G completions attending to it) gives the log-probs (adapters on and off), the loss and every
// accumulated adapter gradient that the rows [prompt | completion] give, on micro-batches of two
// prompts with different left padding, on three architectures (Qwen2 with biases, Phi-3's fused
// projections, Llama 3's scaled RoPE).
func TestSharedPromptMatchesRows(t *testing.T) {
	for _, name := range []string{"qwen2_gqa_tied_bias", "phi3_gqa_fused", "llama3_gqa_rope_scaled"} {
		t.Run(name, func(t *testing.T) { testSharedPromptMatchesRows(t, "../model/testdata/models/"+name) })
	}
}

func testSharedPromptMatchesRows(t *testing.T, dir string) {
	cfg := toyConfig()
	cfg.Beta, cfg.NumIterations, cfg.GradientAccumulationSteps = 0.04, 2, 2
	tr := toyTrainerOf(t, dir, cfg)
	// Adapters that change the model (B starts at zero): the reference differs from the policy and
	// every adapter matrix, A included, gets a gradient.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, a := range tr.Adapters.List {
		v := make([]float32, a.B.Shape().Size())
		for i := range v {
			v[i] = float32(0.05 * rng.NormFloat64())
		}
		a.B.MustSetValue(tensors.FromFlatDataAndDimensions(v, a.B.Shape().Dimensions...))
	}
	b, err := tr.generate()
	if err != nil {
		t.Fatal(err)
	}
	G, N := cfg.NumGenerations, len(b.IDs)
	mb := N / cfg.GradientAccumulationSteps
	if !b.canShare(mb, G) || b.canShare(G/2, G) {
		t.Fatalf("canShare: %v for %d-row micro-batches, %v for %d", b.canShare(mb, G), mb, b.canShare(G/2, G), G/2)
	}
	pads := map[int]bool{}
	for r := 0; r < mb; r += G {
		pads[slices.Index(b.Valid[r], true)] = true
	}
	if len(pads) < 2 {
		t.Fatalf("the test wants a micro-batch of prompts with different padding; got %v", pads)
	}
	logps := func(shared, ref bool) [][]float32 {
		tr.Cfg.SharedPrompt = shared
		if _, got := tr.layout(b, mb); got != shared {
			t.Fatalf("layout shared=%v with shared_prompt=%v", got, shared)
		}
		lp, err := tr.logps(b, ref)
		if err != nil {
			t.Fatal(err)
		}
		return lp
	}
	for _, ref := range []bool{false, true} {
		rowsLP, sharedLP := logps(false, ref), logps(true, ref)
		for i := range rowsLP {
			for j := range rowsLP[i] {
				if d := math.Abs(float64(sharedLP[i][j] - rowsLP[i][j])); d > 1e-4 || math.IsNaN(d) {
					t.Fatalf("ref=%v row %d position %d: shared %g, rows %g", ref, i, j, sharedLP[i][j], rowsLP[i][j])
				}
			}
		}
	}
	old, ref := logps(false, false), logps(false, true)
	for i := range old { // a policy that moved, so that the ratio and clipping terms are not trivial
		for j := range old[i] {
			old[i][j] += 0.05 * float32((i+j)%3-1)
		}
	}
	// One micro-batch's loss and accumulated gradients in a layout.
	grads := func(shared bool) (loss float64, acc [][]float32) {
		layout := 0
		if shared {
			layout = 1
		}
		out, err := tr.microExec[layout].Call(append(b.inputs(mb, mb, G, shared), rows(b.Targets, mb, 2*mb), rows(b.Mask, mb, 2*mb),
			b.Adv[mb:2*mb], rows(old, mb, 2*mb), rows(ref, mb, 2*mb), b.NumItems)...)
		if err != nil {
			t.Fatal(err)
		}
		acc = tr.opt.accumulated()
		tr.zeroAccumulators()
		return float64(tensors.ToScalar[float32](out[0])), acc
	}
	rowsLoss, rowsAcc := grads(false)
	sharedLoss, sharedAcc := grads(true)
	if math.Abs(sharedLoss-rowsLoss) > 1e-4*math.Abs(rowsLoss) || math.Abs(rowsLoss) < 1e-4 {
		t.Fatalf("loss: shared %g, rows %g", sharedLoss, rowsLoss)
	}
	nonzero := 0
	for k := range rowsAcc {
		scale := 0.0
		for _, v := range rowsAcc[k] {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		if scale > 0 {
			nonzero++
		}
		for i, v := range rowsAcc[k] {
			if d := math.Abs(float64(sharedAcc[k][i] - v)); d > 1e-4*scale+1e-9 || math.IsNaN(d) {
				t.Fatalf("gradient of %s [%d]: shared %g, rows %g (largest %g)", tr.trainable[k].Path(), i, sharedAcc[k][i], v, scale)
			}
		}
	}
	if nonzero < len(rowsAcc) {
		t.Fatalf("only %d of %d gradients are nonzero", nonzero, len(rowsAcc))
	}
	t.Logf("loss %g (shared %g); %d gradients, %d nonzero", rowsLoss, sharedLoss, len(rowsAcc), nonzero)
}
