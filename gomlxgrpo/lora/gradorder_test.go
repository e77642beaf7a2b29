package lora

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// TestCheckpointOrdersAdapterGradients: under gradient checkpointing the gradient leaving each
// decoder layer (but the first) waits on that layer's adapter gradients — one SchedulingBarrier per
// layer with the layer's 14 A and B gradients as dependencies (model/gradorder.go) — and the adapter
// gradients equal those computed without checkpointing, where nothing is ordered.
func TestCheckpointOrdersAdapterGradients(t *testing.T) {
	m := load(t, llamaDir)
	ad, err := Attach(m, Config{R: 4, Alpha: 8})
	if err != nil {
		t.Fatal(err)
	}
	randomizeB(t, ad, 3)
	perLayer := 2 * len(ad.List) / len(m.Layers)
	b, _ := model.LeftPad([][]int{{5, 9, 13, 17, 21, 3, 7}, {11, 12, 13}}, 0, 0)
	run := func(checkpoint bool) (ordered int, grads [][]float32) {
		exec := gmodel.MustNewExec(m.Backend, m.Store, func(scope *gmodel.Scope, ids, posn, valid *Node) []*Node {
			g := ids.Graph()
			h := m.Forward(&model.Inputs{IDs: ids, Positions: posn, KeyValid: valid, Checkpoint: checkpoint})
			loss := ReduceAllSum(Mul(h, h))
			var params []*Node
			for _, v := range ad.Variables() {
				params = append(params, v.NodeValue(g))
			}
			gr := Gradient(loss, params...)
			for _, n := range g.Nodes() {
				if n.Type() == NodeTypeSchedulingBarrier && len(n.Inputs()) == 1+perLayer {
					ordered++
				}
			}
			return gr
		})
		defer exec.Finalize()
		for _, o := range exec.MustCall(b.IDs, b.Positions, b.Valid) {
			grads = append(grads, tensors.MustCopyFlatData[float32](o))
		}
		return
	}
	o0, g0 := run(false)
	o1, g1 := run(true)
	if o0 != 0 || o1 != len(m.Layers)-1 {
		t.Fatalf("%d and %d layer gradients wait on %d adapter gradients without and with checkpointing; want 0 and %d", o0, o1, perLayer, len(m.Layers)-1)
	}
	for i := range g0 {
		for j := range g0[i] {
			if d := math.Abs(float64(g0[i][j] - g1[i][j])); d > 1e-5*math.Max(1, math.Abs(float64(g0[i][j]))) {
				t.Fatalf("%s: gradient[%d] %v with checkpointing, %v without", ad.Variables()[i].Name(), j, g1[i][j], g0[i][j])
			}
		}
	}
}
