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
	chunked, c := run(4 * B * N * 3 * T) // 3 queries per block: 4 chunks, the last one ragged (11 = 3+3+3+2)
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

// TestAttentionQueryChunk: the fewest chunks whose score blocks fit the bound, each fitting it —
// the Llama-3.1-8B shape at 8 × 4,352 tokens (19.4 GB of scores per layer) takes 19 chunks of 230
// queries under 1 GiB — and one block when everything fits.
func TestAttentionQueryChunk(t *testing.T) {
	B, N, T := 8, 32, 4352
	c := attentionQueryChunk(B, N, T, T)
	n := (T + c - 1) / c
	if 4*B*N*c*T > maxAttentionScoreBytes || n != 19 {
		t.Fatalf("chunk %d (%d chunks, %d bytes of scores each)", c, n, 4*B*N*c*T)
	}
	if c := attentionQueryChunk(8, 12, 456, 456); c != 456 {
		t.Fatalf("a 456-token batch is chunked: %d", c)
	}
	defer func(m int) { maxAttentionScoreBytes = m }(maxAttentionScoreBytes)
	if err := SetAttentionScoreLimit(4 << 30); err != nil {
		t.Fatal(err)
	}
	if c := attentionQueryChunk(B, N, T, T); (T+c-1)/c != 5 {
		t.Fatalf("4 GiB blocks: chunk %d, want 5 chunks", c)
	}
	if err := SetAttentionScoreLimit(100); err == nil {
		t.Fatal("a 100-byte score limit was accepted")
	}
	for T := 1; T < 300; T++ { // every chunk fits, and one fewer chunk would not
		limit := 4 * 2 * 3 * 7 * 10
		defer func(m int) { maxAttentionScoreBytes = m }(maxAttentionScoreBytes)
		maxAttentionScoreBytes = limit
		c := attentionQueryChunk(2, 3, T, 7)
		n := (T + c - 1) / c
		if 4*2*3*c*7 > limit || (n > 1 && 4*2*3*7*((T+n-2)/(n-1)) <= limit) {
			t.Fatalf("T %d: chunk %d (%d chunks)", T, c, n)
		}
	}
}
