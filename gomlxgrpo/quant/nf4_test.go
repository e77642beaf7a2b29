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

// TestDoubleQuantization: the dynamic map has bitsandbytes' structure, quantize8 picks the nearest
// code, and compressed absmax stays within the map's resolution; the graph expansion equals the host's.
func TestDoubleQuantization(t *testing.T) {
	code := DynamicMap()
	// Signed dynamic map: 127 negative and 127 positive means, 0 and 1.0 (so it ends at 1 but not at -1).
	neg, pos := 0, 0
	for _, c := range code {
		if c < 0 {
			neg++
		} else if c > 0 {
			pos++
		}
	}
	if code[255] != 1 || code[0] > -0.99 || neg != 127 || pos != 128 {
		t.Fatalf("dynamic map: ends %v %v, %d negative, %d positive", code[0], code[255], neg, pos)
	}
	for i := 1; i < 256; i++ {
		if code[i] < code[i-1] {
			t.Fatalf("map not sorted at %d", i)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		x := float32(rng.Float64()*2 - 1)
		c := quantize8(&code, x)
		for j := range code {
			if math.Abs(float64(code[j]-x)) < math.Abs(float64(code[c]-x))-1e-7 {
				t.Fatalf("quantize8(%v) = code %d (%v), but %d (%v) is nearer", x, c, code[c], j, code[j])
			}
		}
	}
	absmax := make([]float32, 700)
	for i := range absmax {
		absmax[i] = float32(0.01 + 0.05*rng.Float64())
	}
	d := DoubleQuantize(absmax)
	back := d.Absmax()
	for i := range absmax {
		if rel := math.Abs(float64(back[i]-absmax[i])) / float64(absmax[i]); rel > 0.05 {
			t.Fatalf("absmax[%d] %v came back as %v", i, absmax[i], back[i])
		}
	}
	be, _ := backend.Default()
	exec := MustNewExec(be, func(q, a2, c, off *Node) *Node { return NestedAbsmaxGraph(q, a2, c, off) })
	got := tensors.MustCopyFlatData[float32](exec.MustCall(d.Q, d.Absmax2, d.Code[:], d.Offset)[0])
	for i := range back {
		if got[i] != back[i] {
			t.Fatalf("graph absmax[%d] = %v, host %v", i, got[i], back[i])
		}
	}
}

// TestQuantizeNF4MatchesTree checks the branch-free code count against bnb's decision tree on the
// midpoints themselves (ties go left), their float neighbours, signed zeros, infinities, NaN and
// random values.
func TestQuantizeNF4MatchesTree(t *testing.T) {
	vals := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1, -1, 2, -2}
	for _, m := range nf4Mid {
		vals = append(vals, m, math.Nextafter32(m, 2), math.Nextafter32(m, -2))
	}
	r := rand.New(rand.NewPCG(3, 3))
	for range 100000 {
		vals = append(vals, float32(r.NormFloat64()*0.5))
	}
	for i := 0; i <= nf4Buckets; i++ { // the table's bucket edges and their float neighbours
		e := float32(-1 + 2*float64(i)/nf4Buckets)
		vals = append(vals, e, math.Nextafter32(e, 2), math.Nextafter32(e, -2))
	}
	for _, x := range vals {
		if got, want := quantizeNF4(x), quantizeNF4Tree(x); got != want {
			t.Fatalf("quantizeNF4(%v) = %04b, bnb's tree gives %04b", x, got, want)
		}
		if got, want := quantizeNF4Count(x), quantizeNF4Tree(x); got != want {
			t.Fatalf("quantizeNF4Count(%v) = %04b, bnb's tree gives %04b", x, got, want)
		}
	}
}

// TestQuantizeNF4TableEveryFloat compares the table lookup with the midpoint count on every 61st
// float32 bit pattern (70 million values, all signs and exponents; NF4_EXHAUSTIVE=1: all 2³²).
func TestQuantizeNF4TableEveryFloat(t *testing.T) {
	step := uint64(61)
	if os.Getenv("NF4_EXHAUSTIVE") == "1" {
		step = 1
	}
	for u := uint64(0); u < 1<<32; u += step {
		x := math.Float32frombits(uint32(u))
		if got, want := quantizeNF4(x), quantizeNF4Count(x); got != want {
			t.Fatalf("quantizeNF4(%v = %#08x) = %04b, counting gives %04b", x, u, got, want)
		}
	}
}

// quantizeNF4Tree is bnb's dQuantizeNF4 decision tree as written in csrc/kernels.cu, the reference for quantizeNF4.
func quantizeNF4Tree(x float32) byte {
	if x > 0.03979014977812767 {
		if x > 0.3893125355243683 {
			if x > 0.6427869200706482 {
				if x > 0.8614784181118011 {
					return 0b1111
				}
				return 0b1110
			}
			if x > 0.5016634166240692 {
				return 0b1101
			}
			return 0b1100
		}
		if x > 0.2035212516784668 {
			if x > 0.2920137718319893 {
				return 0b1011
			}
			return 0b1010
		}
		if x > 0.1202552504837513 {
			return 0b1001
		}
		return 0b1000
	}
	if x > -0.33967943489551544 {
		if x > -0.13791173323988914 {
			if x > -0.045525018125772476 {
				return 0b0111
			}
			return 0b0110
		}
		if x > -0.23460740596055984 {
			return 0b0101
		}
		return 0b0100
	}
	if x > -0.6106329262256622 {
		if x > -0.4599952697753906 {
			return 0b0011
		}
		return 0b0010
	}
	if x > -0.8480964004993439 {
		return 0b0001
	}
	return 0b0000
}
