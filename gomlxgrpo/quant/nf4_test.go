package quant

import (
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

// TestPackedBytesMatchReference compares packed bytes and absmax with scripts/make_nf4_goldens.py,
// an independent implementation of bitsandbytes' kernel (aligned, partial and all-zero blocks).
func TestPackedBytesMatchReference(t *testing.T) {
	data, err := os.ReadFile("testdata/nf4.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Name   string    `json:"name"`
			Values []float32 `json:"values"`
			Packed string    `json:"packed"`
			Absmax []float32 `json:"absmax"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	for _, c := range g.Cases {
		q := QuantizeNF4(c.Values, len(c.Values))
		if got := hex.EncodeToString(q.Packed); got != c.Packed {
			t.Errorf("%s: packed bytes differ\n got %s\nwant %s", c.Name, got, c.Packed)
		}
		for i := range c.Absmax {
			if q.Absmax[i] != c.Absmax[i] {
				t.Errorf("%s: absmax[%d] = %v, want %v", c.Name, i, q.Absmax[i], c.Absmax[i])
			}
		}
	}
}

// TestRoundTripWithinBound: every element's error is within half the widest NF4 gap of its block's absmax.
func TestRoundTripWithinBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 64*300)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
	}
	q := QuantizeNF4(w, 300, 64)
	if e := MaxBlockError(w, q); e > NF4Bound+1e-6 || e == 0 {
		t.Fatalf("max error %.4f of absmax, bound %.4f", e, NF4Bound)
	}
	// The quantizer picks the nearest NF4 value: re-quantizing the dequantized tensor is the identity.
	q2 := QuantizeNF4(q.Dequantize(), 300, 64)
	for i := range q.Packed {
		if q.Packed[i] != q2.Packed[i] {
			t.Fatalf("byte %d: %x then %x", i, q.Packed[i], q2.Packed[i])
		}
	}
}

// TestGraphDequantMatchesHost checks the graph op against the host reference on random shapes.
func TestGraphDequantMatchesHost(t *testing.T) {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, shape := range [][]int{{8, 64}, {96, 32}, {3, 128}} {
		n := shape[0] * shape[1]
		w := make([]float32, n)
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		q := QuantizeNF4(w, shape...)
		exec := MustNewExec(be, func(p, a *Node) *Node { return DequantizeGraph(p, a, dtypes.Float32, shape...) })
		out := tensors.MustCopyFlatData[float32](exec.MustCall(q.Packed, q.Absmax)[0])
		want := q.Dequantize()
		for i := range want {
			if out[i] != want[i] {
				t.Fatalf("%v: element %d = %v, host %v", shape, i, out[i], want[i])
			}
		}
	}
}

func TestDequantizeNested(t *testing.T) {
	code := make([]float32, 256)
	for i := range code {
		code[i] = float32(i-128) / 128
	}
	q := []byte{0, 128, 255, 64}
	got, err := DequantizeNested(q, code, []float32{2}, 256, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{-2 + 0.5, 0 + 0.5, float32(127.0/128*2) + 0.5, -1 + 0.5}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("%v, want %v", got, want)
		}
	}
	if _, err := DequantizeNested(q, code[:10], []float32{2}, 256, 0); err == nil {
		t.Fatal("a short quant map should be an error")
	}
}
