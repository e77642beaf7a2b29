package model_test

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// TestHalfPrecisionBackwardStaysHalf: in a bfloat16 model, the backward pass's matmuls (dx = dy·W
// for every projection, the tied lm_head, both attention products) run on bfloat16 operands, as
// PyTorch's do. GoMLX's Dot gives half-precision operands a float32 accumulator and its gradient
// then converts both operands to float32: on the GPU that was a float32 copy of every weight read
// in the backward pass (the Qwen2.5-1.5B tied embedding: 890 MiB, the largest buffer at the
// training step's peak) and float32 GEMMs. The gradient still matches the float32 model's within
// bfloat16 rounding.
func TestHalfPrecisionBackwardStaysHalf(t *testing.T) {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := writeRandomCheckpoint(t, hf.Llama, true)
	b, _ := model.LeftPad([][]int{{5, 9, 13, 17, 21, 3, 7}, {11, 12, 13}}, 0, 0)
	run := func(dt dtypes.DType, load4bit bool) (upcasts int, grad []float32) {
		m, err := model.Load(dir, be, model.LoadOptions{DType: dt, Load4Bit: load4bit})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.Embed.SetTrainable(true)
		exec := gmodel.MustNewExec(m.Backend, m.Store, func(scope *gmodel.Scope, ids, posn, valid *Node) *Node {
			g := ids.Graph()
			h := m.Forward(&model.Inputs{IDs: ids, Positions: posn, KeyValid: valid, Checkpoint: true})
			z := m.Logits(h) // [B, T, V] float32
			l := ReduceAllSum(Mul(z, Sin(z)))
			gr := ConvertDType(Gradient(l, m.Embed.NodeValue(g))[0], dtypes.Float32)
			for _, n := range g.Nodes() {
				if n.Type() != NodeTypeDotGeneral {
					continue
				}
				for _, in := range n.Inputs() {
					if in.Type() == NodeTypeConvertDType && in.DType() == dtypes.Float32 && in.Inputs()[0].DType() == dtypes.BFloat16 {
						upcasts++
						t.Logf("%s: dot %s reads a bfloat16 %s upcast to float32", dt, n.Shape(), in.Inputs()[0].Shape())
					}
				}
			}
			return gr
		})
		defer exec.Finalize()
		return upcasts, tensors.MustCopyFlatData[float32](exec.MustCall(b.IDs, b.Positions, b.Valid)[0])
	}
	_, want := run(dtypes.Float32, false)
	for _, load4bit := range []bool{false, true} {
		n, got := run(dtypes.BFloat16, load4bit)
		if n != 0 {
			t.Errorf("bf16 (4-bit %v): %d matmul operands upcast to float32 in the forward+backward graph, want 0", load4bit, n)
		}
		if load4bit {
			continue // the NF4 weights differ from the float32 ones by the quantization error
		}
		var num, den float64
		for i := range want {
			num += math.Pow(float64(got[i]-want[i]), 2)
			den += math.Pow(float64(want[i]), 2)
		}
		if rel := math.Sqrt(num / den); rel > 0.03 || math.IsNaN(rel) {
			t.Errorf("bf16 embedding gradient differs from the float32 model's by %.3g (relative L2), want ≤ 0.03", rel)
		}
	}
}
