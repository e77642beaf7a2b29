//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// TestSampleMatchesGraph draws with the kernel and with sample.SampleGraph (XLA, same card) from the
// same fresh random logits and keys: the tokens must agree and the log-probs match within 1e-4.
func TestSampleMatchesGraph(t *testing.T) {
	be := xlaBackend(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	const rows, V = 9, 50000
	flat := make([]float32, rows*V)
	for i := range flat {
		flat[i] = float32(rng.NormFloat64() * 3)
	}
	k1, k2 := make([]uint32, rows), make([]uint32, rows)
	for b := range rows {
		k1[b], k2[b] = sample.RowKeys(rng.Uint64(), uint64(b))
	}
	lt, pl := onDevice(t, be, flat, rows, V)
	_, pk1 := onDevice(t, be, k1, rows)
	_, pk2 := onDevice(t, be, k2, rows)
	defer func(r bool) { rowSample = r }(rowSample)
	for _, form := range []bool{false, true} { // the split form where it applies, then sample_rows for every draw
		rowSample = form
		testSampleMatchesGraph(t, be, rng, lt, pl, pk1, pk2, k1, k2, rows)
	}
}

func testSampleMatchesGraph(t *testing.T, be compute.Backend, rng *rand.Rand, lt *tensors.Tensor, pl, pk1, pk2 cu.DevicePtr, k1, k2 []uint32, rows int) {
	const V = 50000
	for _, p := range []sample.Params{
		{Greedy: true},
		{Temperature: 1, TopP: 1},
		{Temperature: 0.7, TopP: 1, MinP: 0.05},
		{Temperature: 1, TopP: 1, TopK: 50},
		{Temperature: 0.9, TopP: 0.9},
		{Temperature: 1.1, TopP: 0.95, TopK: 200, MinP: 0.01},
	} {
		step := rng.IntN(300)
		_, pstep := onDevice(t, be, []int32{int32(step)}, 1)
		tt, pt := zerosOnDevice(t, be, dtypes.Int32, rows)
		lpt, plp := zerosOnDevice(t, be, dtypes.Float32, rows)
		if err := Sample(pl, pk1, pk2, pt, plp, rows, V, pstep, p); err != nil {
			t.Fatal(err)
		}
		if err := Synchronize(); err != nil {
			t.Fatal(err)
		}
		got, gotLP := readDevice[int32](tt), readDevice[float32](lpt)
		mode := sample.ModeOf(p)
		exec, err := graph.NewExec(be, func(in []*graph.Node) []*graph.Node {
			tok, lp := sample.SampleGraph(in[0], sample.SamplerFromInputs(in[1:]), mode)
			return []*graph.Node{tok, lp}
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := exec.Call(append([]any{lt}, sample.SamplerArgs(k1, k2, step, p)...)...)
		if err != nil {
			t.Fatal(err)
		}
		want, wantLP := tensors.MustCopyFlatData[int32](out[0]), tensors.MustCopyFlatData[float32](out[1])
		exec.Finalize()
		for b := range rows {
			if got[b] != want[b] {
				t.Errorf("%+v (split %v) row %d: kernel drew %d, graph %d", p, splitOf(p, V), b, got[b], want[b])
			}
			if math.Abs(float64(gotLP[b]-wantLP[b])) > 1e-4 {
				t.Errorf("%+v (split %v) row %d: kernel log-prob %v, graph %v", p, splitOf(p, V), b, gotLP[b], wantLP[b])
			}
		}
	}
}

// splitOf reports whether Sample takes the split form for p (for messages).
func splitOf(p sample.Params, vocab int) bool {
	_, topK, topP, _ := p.Normalized()
	return splitSample(p.Greedy, topK, topP, vocab)
}

// BenchmarkSample: one step of sampling over a 151,936-token vocabulary, at 8 and 64 rows, with
// TRL's defaults (temperature 1, no top-k or top-p: the split form, and the one-block form for
// comparison) and with top-p 0.95 (the one-block form, which bisects over whole rows).
func BenchmarkSample(b *testing.B) {
	be := xlaBackend(b)
	const V = 151936
	defer func(r bool) { rowSample = r }(rowSample)
	for _, rows := range []int{8, 64} {
		flat := make([]float32, rows*V)
		rng := rand.New(rand.NewPCG(1, 1))
		for i := range flat {
			flat[i] = float32(rng.NormFloat64() * 3)
		}
		k := make([]uint32, rows)
		_, pl := onDevice(b, be, flat, rows, V)
		_, pk := onDevice(b, be, k, rows)
		_, pt := zerosOnDevice(b, be, dtypes.Int32, rows)
		_, plp := zerosOnDevice(b, be, dtypes.Float32, rows)
		_, pstep := onDevice(b, be, []int32{7}, 1)
		for _, c := range []struct {
			name string
			p    sample.Params
			rows bool
		}{{"trl-split", sample.Params{Temperature: 1, TopP: 1}, false}, {"trl-rows", sample.Params{Temperature: 1, TopP: 1}, true}, {"top-p", sample.Params{Temperature: 1, TopP: 0.95}, false}} {
			b.Run(fmt.Sprintf("rows=%d/%s", rows, c.name), func(b *testing.B) {
				rowSample = c.rows
				if err := Sample(pl, pk, pk, pt, plp, rows, V, pstep, c.p); err != nil { // scratch, load
					b.Fatal(err)
				}
				_ = Synchronize()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					if err := Sample(pl, pk, pk, pt, plp, rows, V, pstep, c.p); err != nil {
						b.Fatal(err)
					}
				}
				_ = Synchronize()
				b.ReportMetric(time.Since(start).Seconds()/float64(b.N)*1e6, "us/step")
			})
		}
	}
}
