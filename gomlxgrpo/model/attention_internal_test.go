package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

// TestChunkedAttentionMatchesWhole: attention taken in query chunks (long sequences) gives the same
// output and the same gradients with respect to q, k and v as one block, with left padding (keys
// masked at the start of a row) and a chunk length that does not divide T.
func TestChunkedAttentionMatchesWhole(t *testing.T) {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	B, T, N, K, H := 2, 11, 4, 2, 8
	rng := rand.New(rand.NewPCG(7, 8))
	rnd := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	q, k, v, w := rnd(B, T, N, H), rnd(B, K, T, H), rnd(B, K, T, H), rnd(B, T, N*H)
	valid := make([]bool, B*T) // row 0: 3 pads on the left; row 1: none
	for b := range B {
		for s := range T {
			valid[b*T+s] = b == 1 || s >= 3
		}
	}
	validT := tensors.FromFlatDataAndDimensions(valid, B, T)
	// run computes the output and gradients with the given bound on one block's scores, and the
	// query chunk that bound gives.
	run := func(scoreBytes int) (outs []*tensors.Tensor, chunk int) {
		defer func(m int) { maxAttentionScoreBytes = m }(maxAttentionScoreBytes)
		maxAttentionScoreBytes = scoreBytes
		return MustExecOnceN(be, func(q, k, v, w, valid *Node) []*Node {
			g := q.Graph()
			idx := Iota(g, valid.Shape(), 1)
			in := &Inputs{IDs: ConvertDType(idx, dtypes.Int32), KeyValid: valid}
			out := groupedAttention(q, k, v, attentionMask(in), K)
			loss := ReduceAllSum(Mul(out, w))
			grads := Gradient(loss, q, k, v)
			return append([]*Node{out}, grads...)
		}, q, k, v, w, validT), attentionQueryChunk(B, N, T, T)
	}
	whole, c := run(maxAttentionScoreBytes)
	if c != T {
		t.Fatalf("default bound chunks a %d-token test: %d", T, c)
	}
	chunked, c := run(4 * B * N * 3 * T) // 3 queries per block: chunks 6 → 3, the last one ragged (11 = 3+3+3+2)
	if c != 3 {
		t.Fatalf("chunk %d, want 3", c)
	}
	for i, name := range []string{"output", "dq", "dk", "dv"} {
		a, b := tensors.MustCopyFlatData[float32](whole[i]), tensors.MustCopyFlatData[float32](chunked[i])
		for j := range a {
			if d := math.Abs(float64(a[j] - b[j])); d > 1e-5*(1+math.Abs(float64(a[j]))) || math.IsNaN(float64(b[j])) {
				t.Fatalf("%s[%d]: chunked %v, whole %v", name, j, b[j], a[j])
			}
		}
	}
}
