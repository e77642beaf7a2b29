package model_test

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// TestCheckpointRecomputesNF4Dequantization: under gradient checkpointing, the backward pass
// dequantizes each NF4 projection again (its 4-bit codes are read by two separate dequantizations
// in the gradient graph) instead of keeping the forward pass's 16-bit copy alive across the whole
// step; without checkpointing they are read once. Both readers are SchedulingBarriers tying the
// codes to the layer input (XLA dropped an earlier OptimizationBarriers tie and merged the two
// dequantizations, which a GPU run showed: bench/RESULTS.md). Loss and gradient are the same either way.
func TestCheckpointRecomputesNF4Dequantization(t *testing.T) {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(writeRandomCheckpoint(t, hf.Llama, false), be, model.LoadOptions{DType: dtypes.Float32, Load4Bit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Embed.SetTrainable(true)
	b, _ := model.LeftPad([][]int{{5, 9, 13, 17, 21, 3, 7}, {11, 12, 13}}, 0, 0)
	run := func(checkpoint bool) (readers, tied int, loss float32, grad []float32) {
		exec := gmodel.MustNewExec(m.Backend, m.Store, func(scope *gmodel.Scope, ids, posn, valid *Node) []*Node {
			g := ids.Graph()
			h := m.Forward(&model.Inputs{IDs: ids, Positions: posn, KeyValid: valid, Checkpoint: checkpoint})
			l := ReduceAllSum(Mul(h, h))
			gr := Gradient(l, m.Embed.NodeValue(g))[0]
			codes := m.Layers[0].Q.NF4Packed.NodeValue(g)
			for _, n := range g.Nodes() {
				for _, in := range n.Inputs() {
					if in == codes {
						readers++
						if n.Type() == NodeTypeSchedulingBarrier && n.Inputs()[0] == codes {
							tied++ // codes + 0·x: a tie XLA cannot drop (an OptimizationBarriers tie it did)
						}
					}
				}
			}
			return []*Node{l, gr}
		})
		defer exec.Finalize()
		out := exec.MustCall(b.IDs, b.Positions, b.Valid)
		return readers, tied, tensors.ToScalar[float32](out[0]), tensors.MustCopyFlatData[float32](out[1])
	}
	r0, _, l0, g0 := run(false)
	r1, t1, l1, g1 := run(true)
	if r0 != 1 || r1 != 2 {
		t.Fatalf("layer 0 q_proj's 4-bit codes read by %d node(s) without checkpointing (want 1) and %d with (want 2: forward and recompute)", r0, r1)
	}
	if t1 != 2 {
		t.Fatalf("%d of the 2 readers of the codes tie them to the layer input with a SchedulingBarrier", t1)
	}
	if l0 != l1 {
		t.Fatalf("loss %v with checkpointing, %v without", l1, l0)
	}
	for i := range g0 {
		if d := g0[i] - g1[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("gradient[%d] %v with checkpointing, %v without", i, g1[i], g0[i])
		}
	}
}
