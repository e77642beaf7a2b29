package model

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// halfDot is GoMLX's Dot for the model's own matmuls, without the float32 accumulator that Dot
// gives half-precision operands by default.
//
// Why: GoMLX v0.28.6's DotGeneral gradient runs in the accumulator's dtype when one is set, so
// with bfloat16 operands it converts the incoming gradient and the other operand to float32 and
// multiplies in float32 — for dx = dy·W a float32 copy of the whole weight (the Qwen2.5-1.5B tied
// embedding behind the lm_head: 890 MiB, the largest buffer at the training step's peak on an H100)
// and float32 GEMMs where PyTorch runs bfloat16 ones. Without the setting the gradient's products
// take the operands' dtype, and precision does not change: XLA's GPU GEMMs (cuBLAS, Triton) and
// the pure-Go backend accumulate bfloat16 products in float32 either way.
// (TestHalfPrecisionBackwardStaysHalf.)
func halfDot(lhs, rhs *Node) *DotBuilder {
	b := Dot(lhs, rhs)
	if lhs.DType().IsHalfPrecision() {
		b = b.WithAccumulatorDType(dtypes.InvalidDType)
	}
	return b
}
