package quant

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// DequantizeGraph is NF4 dequantization as graph operations (any backend; XLA fuses it into the
// consumer, so the 16-bit weight need not be stored):
//
//	packed [n/2] uint8 → codes [n] (high nibble first) → NF4[codes] [nBlocks, 64] · absmax[:, None] → [shape...]
//
// n must be a multiple of the block size (true for every projection of the supported models).
func DequantizeGraph(packed, absmax *Node, dtype dtypes.DType, shape ...int) *Node {
	g := packed.Graph()
	n := 1
	for _, d := range shape {
		n *= d
	}
	p := ConvertDType(packed, dtypes.Int32)
	hi := BitwiseShiftRightLogicalScalar(p, 4)
	lo := BitwiseAnd(p, Const(g, int32(0x0F)))
	codes := Reshape(Stack([]*Node{hi, lo}, 1), n) // [n]: element 2j from the high nibble
	table := Const(g, NF4[:])
	vals := Gather(table, ExpandAxes(codes, -1)) // [n] float32
	vals = Mul(Reshape(vals, n/BlockSize, BlockSize), ExpandAxes(absmax, -1))
	return ConvertDType(Reshape(vals, shape...), dtype)
}
