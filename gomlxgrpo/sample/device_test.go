package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// runSampler samples once per row of logits [B][V] on the default backend.
func runSampler(t *testing.T, logits [][]float32, k1, k2 []uint32, step int, p Params, warpedOut bool) (tokens []int32, logps []float32, warped [][]float32) {
	t.Helper()
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	mode := ModeOf(p)
	exec, err := graph.NewExec(be, func(in []*graph.Node) []*graph.Node {
		s := SamplerFromInputs(in[1:])
		tok, lp := SampleGraph(in[0], s, mode)
		out := []*graph.Node{tok, lp}
		if warpedOut && mode != ModeGreedy {
			out = append(out, Warp(in[0], s, mode))
		}
		return out
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Call(append([]any{logits}, SamplerArgs(k1, k2, step, p)...)...)
	if err != nil {
		t.Fatal(err)
	}
	tokens = tensors.MustCopyFlatData[int32](out[0])
	logps = tensors.MustCopyFlatData[float32](out[1])
	if len(out) > 2 {
		flat := tensors.MustCopyFlatData[float32](out[2])
		V := len(logits[0])
		for b := range logits {
			warped = append(warped, flat[b*V:(b+1)*V])
		}
	}
	return
}

func keysFor(seed uint64, n int) (k1, k2 []uint32) {
	for i := range n {
		a, b := RowKeys(seed, uint64(i))
		k1, k2 = append(k1, a), append(k2, b)
	}
	return
}

// TestDeviceUniformMatchesHost checks the graph's counter-based uniforms bit for bit against the
// host formula, and that they look uniform (mean, and no value at 0 or 1).
func TestDeviceUniformMatchesHost(t *testing.T) {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	const V = 4099
	k1, k2 := keysFor(9, 3)
	exec, err := graph.NewExec(be, func(a, b, s *graph.Node) *graph.Node { return UniformGraph(a, b, s, V) })
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	for _, step := range []int{0, 1, 199, 4095} {
		out, err := exec.Call(k1, k2, int32(step))
		if err != nil {
			t.Fatal(err)
		}
		got := tensors.MustCopyFlatData[float32](out[0])
		sum := 0.0
		for b := range k1 {
			for v := range V {
				want := Uniform(k1[b], k2[b], step, v)
				if got[b*V+v] != want {
					t.Fatalf("step %d row %d v %d: device %v, host %v", step, b, v, got[b*V+v], want)
				}
				if want <= 0 || want >= 1 {
					t.Fatalf("uniform %v outside (0,1)", want)
				}
				sum += float64(want)
			}
		}
		if mean := sum / float64(len(k1)*V); math.Abs(mean-0.5) > 0.01 {
			t.Errorf("step %d: mean of uniforms %v", step, mean)
		}
	}
}

// TestDeviceWarpMatchesHost compares the device warpers with the host transforms (which are checked
// against an independent implementation in transforms_test.go) on random logits.
func TestDeviceWarpMatchesHost(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const B, V = 5, 64
	logits := make([][]float32, B)
	for b := range logits {
		logits[b] = make([]float32, V)
		for v := range logits[b] {
			logits[b][v] = float32(rng.NormFloat64() * 2)
		}
	}
	k1, k2 := keysFor(1, B)
	for _, p := range []Params{
		{Temperature: 1, TopP: 1},
		{Temperature: 0.6, TopP: 1},
		{Temperature: 1, TopP: 1, TopK: 5},
		{Temperature: 1, TopP: 0.9},
		{Temperature: 0.8, TopP: 0.7, TopK: 20},
		{Temperature: 1.2, TopP: 1, MinP: 0.1},
		{Temperature: 1, TopP: 0.95, TopK: 10, MinP: 0.05},
	} {
		tokens, logps, warped := runSampler(t, logits, k1, k2, 3, p, true)
		for b := range B {
			host := append([]float32(nil), logits[b]...)
			Temperature(host, p.Temperature)
			TopK(host, p.TopK)
			TopP(host, p.TopP)
			MinP(host, p.MinP)
			want, got := Softmax(host), Softmax(warped[b])
			for v := range V {
				if (host[v] == negInf) != (warped[b][v] == negInf) {
					t.Fatalf("%+v row %d token %d: host kept=%v, device kept=%v", p, b, v, host[v] != negInf, warped[b][v] != negInf)
				}
				if math.Abs(float64(want[v]-got[v])) > 1e-5 {
					t.Fatalf("%+v row %d token %d: probability %v on the device, %v on the host", p, b, v, got[v], want[v])
				}
			}
			tok := tokens[b]
			if host[tok] == negInf {
				t.Fatalf("%+v row %d: drew removed token %d", p, b, tok)
			}
			if lp := math.Log(float64(want[tok])); math.Abs(lp-float64(logps[b])) > 1e-4 {
				t.Fatalf("%+v row %d: log-prob %v, want %v", p, b, logps[b], lp)
			}
		}
	}
}

// TestDeviceSamplingChiSquare draws 60,000 tokens (one per row, every row its own stream) from a
// fixed logit vector and checks the frequencies against the expected distribution.
func TestDeviceSamplingChiSquare(t *testing.T) {
	base := []float64{2.0, 1.5, 1.2, 0.3, 0.0, -0.4, -1.0, -2.5}
	const draws = 60000
	logits := make([][]float32, draws)
	for i := range logits {
		logits[i] = make([]float32, len(base))
		for v, l := range base {
			logits[i][v] = float32(l)
		}
	}
	for ci, p := range []Params{
		{Temperature: 1, TopP: 1},
		{Temperature: 0.7, TopP: 1},
		{Temperature: 1, TopP: 1, TopK: 3},
		{Temperature: 1, TopP: 0.8},
		{Temperature: 1.3, TopP: 1, MinP: 0.2},
	} {
		k1, k2 := keysFor(uint64(100+ci), draws)
		tokens, _, _ := runSampler(t, logits, k1, k2, ci, p, false)
		want := expected(base, p.Temperature, p.TopK, p.TopP, p.MinP)
		counts := make([]int, len(base))
		for _, tok := range tokens {
			counts[tok]++
		}
		chi2 := 0.0
		for i, w := range want {
			if w == 0 {
				if counts[i] != 0 {
					t.Errorf("%+v: token %d was filtered out but drawn %d times", p, i, counts[i])
				}
				continue
			}
			e := w * draws
			chi2 += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
		}
		if chi2 > 24.3 { // 99.9th percentile of chi-square with ≤ 7 degrees of freedom
			t.Errorf("%+v: chi-square %.1f (counts %v, expected %v)", p, chi2, counts, want)
		}
	}
}

// TestDeviceSamplingReproducible checks that a row's draw depends on its stream, not its batch.
func TestDeviceSamplingReproducible(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const V = 300
	row := make([]float32, V)
	for v := range row {
		row[v] = float32(rng.NormFloat64())
	}
	k1, k2 := keysFor(77, 6)
	batch := [][]float32{row, row, row, row, row, row}
	p := Params{Temperature: 1, TopP: 1}
	all, _, _ := runSampler(t, batch, k1, k2, 4, p, false)
	distinct := map[int32]bool{}
	for b := range batch {
		one, _, _ := runSampler(t, [][]float32{row}, k1[b:b+1], k2[b:b+1], 4, p, false)
		if one[0] != all[b] {
			t.Fatalf("row %d drew %d in a batch and %d alone", b, all[b], one[0])
		}
		distinct[all[b]] = true
	}
	if len(distinct) < 3 {
		t.Errorf("6 streams drew only %d distinct tokens from a flat-ish distribution over %d", len(distinct), V)
	}
	greedy, lp, _ := runSampler(t, [][]float32{row}, k1[:1], k2[:1], 0, Params{Greedy: true}, false)
	if int(greedy[0]) != Argmax(row) || math.Abs(float64(lp[0])-logProbAt(row, Argmax(row))) > 1e-5 {
		t.Fatalf("greedy: token %d log-prob %v, want %d %v", greedy[0], lp[0], Argmax(row), logProbAt(row, Argmax(row)))
	}
}

// TestExplainOOM: a device out-of-memory error names the batch, the cache size and what to lower;
// other errors pass through unchanged.
func TestExplainOOM(t *testing.T) {
	m := loadTiny(t)
	oom := fmt.Errorf("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 123 bytes")
	err := explainOOM(oom, m, 64, 480)
	want := CacheBytes(m, 64, 480)
	if want != int64(2*len(m.Layers)*64*m.Config.NumKVHeads*480*m.Config.HeadDim*m.DType.Size()) {
		t.Fatalf("CacheBytes %d disagrees with the cache shapes", want)
	}
	for _, s := range []string{"64 rows", "480 cache positions", "num_generations", "max_completion_length", "RESOURCE_EXHAUSTED"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q lacks %q", err, s)
		}
	}
	other := fmt.Errorf("shape mismatch")
	if explainOOM(other, m, 1, 1) != other {
		t.Errorf("a non-memory error was rewritten")
	}
}

func loadTiny(t *testing.T) *model.Model {
	t.Helper()
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load("../model/testdata/models/qwen2_gqa_tied_bias", be, model.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// TestBatchTooLargeForCard: on a (pretend) card too small for the KV cache, Generate refuses before
// any device work with an error giving the sizes and what to lower; a big enough card passes.
func TestBatchTooLargeForCard(t *testing.T) {
	m := loadTiny(t)
	gen, err := NewGenerator(m)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	defer func(f func(compute.Backend) (int64, bool)) { deviceMemory = f }(deviceMemory)
	prompts := make([][]int, 64)
	for i := range prompts {
		prompts[i] = []int{5, 6, 7}
	}
	req := &Request{Prompts: prompts, MaxNewTokens: 40, Params: DefaultParams()}
	need := m.Store.ByteSize() + CacheBytes(m, 64, 32+64) + 2*64*int64(m.Config.VocabSize)*4
	deviceMemory = func(compute.Backend) (int64, bool) { return need - 1, true }
	_, err = gen.Generate(req)
	if err == nil || !strings.Contains(err.Error(), "64 rows") || !strings.Contains(err.Error(), "num_generations") {
		t.Fatalf("want a clear too-large error, got %v", err)
	}
	deviceMemory = func(compute.Backend) (int64, bool) { return need, true }
	if _, err = gen.Generate(req); err != nil {
		t.Fatalf("a card of exactly the needed size was refused: %v", err)
	}
}

// TestDeviceSamplingLargestUniform: a row key whose hash at entry 0 is the largest possible (found
// by search) gives entry 0 the largest uniform. It must stay below 1 in float32 (else its Gumbel
// noise is +∞), and when entry 0 is masked by top-k the draw must not pick it: with 24-bit uniforms
// −∞ + ∞ = NaN made XLA's argmax return the masked entry.
func TestDeviceSamplingLargestUniform(t *testing.T) {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	var k1 uint32
	for k1 = 0; ; k1++ {
		if x := lowbias32(lowbias32(lowbias32(0*phi32^k1)^0) ^ (0+1)*stepMul); x>>8 == 1<<24-1 { // the largest under both the 23- and the old 24-bit formula
			break
		}
	}
	u := Uniform(k1, 0, 0, 0)
	if !(u < 1) || math.IsInf(-math.Log(-math.Log(float64(u))), 0) {
		t.Fatalf("largest uniform %v: not below 1 in float32", u)
	}
	p := Params{Temperature: 1, TopP: 1, TopK: 1}
	exec, err := graph.NewExec(be, func(in []*graph.Node) []*graph.Node {
		tok, lp := SampleGraph(in[0], SamplerFromInputs(in[1:]), ModeOf(p))
		return []*graph.Node{tok, lp}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	logits := tensors.FromFlatDataAndDimensions([]float32{0, 5, 1}, 1, 3) // top-1 keeps entry 1 only
	out, err := exec.Call(append([]any{logits}, SamplerArgs([]uint32{k1}, []uint32{0}, 0, p)...)...)
	if err != nil {
		t.Fatal(err)
	}
	tok, lp := tensors.MustCopyFlatData[int32](out[0])[0], tensors.MustCopyFlatData[float32](out[1])[0]
	if tok != 1 || lp != 0 {
		t.Fatalf("top-1 draw with the largest uniform on a masked entry: token %d, log-prob %v; want 1, 0", tok, lp)
	}
}
