package lora

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

const (
	llamaDir = "../model/testdata/models/llama3_gqa_rope_scaled"
	phi3Dir  = "../model/testdata/models/phi3_gqa_fused"
	qwenDir  = "../model/testdata/models/qwen2_gqa_tied_bias"
)

func load(t *testing.T, dir string) *model.Model {
	t.Helper()
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// randomizeB gives every B random values so the adapters change the model (fresh B is zero).
func randomizeB(t *testing.T, ad *Adapters, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, a := range ad.List {
		sh := a.B.Shape()
		vals := make([]float32, sh.Size())
		for i := range vals {
			vals[i] = float32(rng.NormFloat64() * 0.05)
		}
		if err := a.B.SetValue(tensors.FromFlatDataAndDimensions(vals, sh.Dimensions...)); err != nil {
			t.Fatal(err)
		}
	}
}

var seq = [][]int{{5, 17, 42, 7, 99, 3, 250, 11, 64, 128, 33, 8}}

func logprobs(t *testing.T, m *model.Model, noAdapters bool) []float32 {
	t.Helper()
	lp, err := m.NextTokenLogProbs(seq, noAdapters)
	if err != nil {
		t.Fatal(err)
	}
	return lp[0]
}

func maxRelDiff(a, b []float32) float64 {
	worst := 0.0
	for i := range a {
		worst = math.Max(worst, math.Abs(float64(a[i]-b[i]))/math.Max(1, math.Abs(float64(b[i]))))
	}
	return worst
}

// TestFreshAdapterIsIdentity: with B = 0 the adapted model equals the base model (PEFT's init).
func TestFreshAdapterIsIdentity(t *testing.T) {
	m := load(t, llamaDir)
	base := logprobs(t, m, true)
	ad, err := Attach(m, Config{R: 4, Alpha: 8, TargetModules: AllProjections})
	if err != nil {
		t.Fatal(err)
	}
	if len(ad.List) != 7*len(m.Layers) {
		t.Fatalf("%d adapters, want %d", len(ad.List), 7*len(m.Layers))
	}
	if d := maxRelDiff(logprobs(t, m, false), base); d != 0 {
		t.Fatalf("fresh adapter changed log-probs by %g", d)
	}
	randomizeB(t, ad, 1)
	if d := maxRelDiff(logprobs(t, m, false), base); d < 1e-3 {
		t.Fatalf("random B changed log-probs by only %g", d)
	}
	if d := maxRelDiff(logprobs(t, m, true), base); d != 0 {
		t.Fatalf("adapters disabled should give the base model, differs by %g", d)
	}
}

// TestLoRAGradientMatchesFiniteDifferences checks d(mean log-prob)/dA and /dB against central differences.
func TestLoRAGradientMatchesFiniteDifferences(t *testing.T) {
	m := load(t, qwenDir)
	ad, err := Attach(m, Config{R: 4, Alpha: 4, TargetModules: []string{"q_proj", "down_proj"}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	randomizeB(t, ad, 2)
	batch, _ := model.LeftPad(seq, 0, 0)
	a := ad.List[0] // layer 0 q_proj
	d := ad.List[3] // layer 1 down_proj
	lossFn := func(g *Graph, ids, posn, valid *Node) *Node {
		h := m.Forward(&model.Inputs{IDs: ids, Positions: posn, KeyValid: valid})
		T := ids.Shape().Dimensions[1]
		logp := LogSoftmax(m.Logits(SliceAxis(h, 1, AxisRange(0, T-1))), -1)
		tgt := OneHot(SliceAxis(ids, 1, AxisRange(1, T)), m.Config.VocabSize, dtypes.Float32)
		return ReduceAllMean(ReduceSum(Mul(logp, tgt), -1))
	}
	gradExec := gmodel.MustNewExec(m.Backend, m.Store, func(scope *gmodel.Scope, ids, posn, valid *Node) []*Node {
		loss := lossFn(ids.Graph(), ids, posn, valid)
		return append([]*Node{loss}, Gradient(loss, a.A.NodeValue(ids.Graph()), a.B.NodeValue(ids.Graph()), d.A.NodeValue(ids.Graph()), d.B.NodeValue(ids.Graph()))...)
	})
	lossExec := gmodel.MustNewExec(m.Backend, m.Store, func(scope *gmodel.Scope, ids, posn, valid *Node) *Node {
		return lossFn(ids.Graph(), ids, posn, valid)
	})
	out := gradExec.MustCall(batch.IDs, batch.Positions, batch.Valid)
	eval := func() float64 {
		return float64(tensors.ToScalar[float32](lossExec.MustCall(batch.IDs, batch.Positions, batch.Valid)[0]))
	}
	vars := []*gmodel.Variable{a.A, a.B, d.A, d.B}
	rng := rand.New(rand.NewPCG(9, 9))
	for k, v := range vars {
		grad := tensors.MustCopyFlatData[float32](out[1+k])
		orig := tensors.MustCopyFlatData[float32](v.MustValue())
		for trial := 0; trial < 3; trial++ {
			i := rng.IntN(len(orig))
			const eps = 1e-2
			set := func(x float32) {
				c := append([]float32(nil), orig...)
				c[i] = x
				v.MustSetValue(tensors.FromFlatDataAndDimensions(c, v.Shape().Dimensions...))
			}
			set(orig[i] + eps)
			up := eval()
			set(orig[i] - eps)
			down := eval()
			set(orig[i])
			fd := (up - down) / (2 * eps)
			if math.Abs(fd-float64(grad[i])) > 2e-3+0.02*math.Abs(fd) {
				t.Errorf("%s[%d]: autodiff %g, finite differences %g", v.Path(), i, grad[i], fd)
			}
		}
	}
}

// TestMergedEqualsBasePlusAdapter: a merged checkpoint reloads to the adapted model's log-probs.
func TestMergedEqualsBasePlusAdapter(t *testing.T) {
	for _, dir := range []string{llamaDir, phi3Dir, qwenDir} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := load(t, dir)
			ad, err := Attach(m, Config{R: 8, Alpha: 16, TargetModules: AllProjections, UseRSLoRA: dir == phi3Dir})
			if err != nil {
				t.Fatal(err)
			}
			randomizeB(t, ad, 5)
			checkMerged(t, m, ad)
		})
	}
}

// checkMerged exports a float32 merged checkpoint and checks that it reloads to the adapted model.
func checkMerged(t *testing.T, m *model.Model, ad *Adapters) {
	t.Helper()
	want := logprobs(t, m, false)
	out := t.TempDir()
	if err := ad.SaveMerged(out, "F32"); err != nil {
		t.Fatal(err)
	}
	if d := maxRelDiff(logprobs(t, load(t, out), false), want); d > 1e-5 {
		t.Fatalf("merged model differs from base+adapter by %g", d)
	}
}

// TestPEFTRoundTrip saves in PEFT's format and loads onto a fresh copy of the base model.
func TestPEFTRoundTrip(t *testing.T) {
	m := load(t, phi3Dir)
	ad, err := Attach(m, Config{R: 4, Alpha: 8, TargetModules: []string{"q_proj", "o_proj", "up_proj"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ad.Modules(), ","); got != "gate_up_proj,o_proj,qkv_proj" {
		t.Fatalf("Phi-3 adapters on %s, want PEFT's fused modules", got)
	}
	randomizeB(t, ad, 7)
	want := logprobs(t, m, false)
	dir := t.TempDir()
	if err := ad.Save(dir); err != nil {
		t.Fatal(err)
	}
	m2 := load(t, phi3Dir)
	if _, err := Load(m2, dir); err != nil {
		t.Fatal(err)
	}
	if d := maxRelDiff(logprobs(t, m2, false), want); d != 0 {
		t.Fatalf("reloaded adapter differs by %g", d)
	}
	// An adapter for another base model: a clear error naming the layer and both shapes.
	m3 := load(t, "../model/testdata/models/phi3_mqa_bf16_sharded")
	_, err = Load(m3, dir)
	if err == nil || !strings.Contains(err.Error(), "another base model") || !strings.Contains(err.Error(), "qkv_proj") {
		t.Fatalf("loading onto another model: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "adapter_config.json")); err != nil {
		t.Fatal(err)
	}
}

// TestWritePEFTFixture writes, when $GOMLXGRPO_PEFT_FIXTURE names a folder, a Go-made adapter for
// each golden architecture plus the log-probs Go computes with it; scripts/check_peft_adapter.py
// then loads each adapter with transformers + PEFT and compares.
func TestWritePEFTFixture(t *testing.T) {
	root := os.Getenv("GOMLXGRPO_PEFT_FIXTURE")
	if root == "" {
		t.Skip("set GOMLXGRPO_PEFT_FIXTURE to write the PEFT fixture")
	}
	for i, dir := range []string{llamaDir, phi3Dir, qwenDir} {
		m := load(t, dir)
		ad, err := Attach(m, Config{R: 8, Alpha: 16, TargetModules: AllProjections, UseRSLoRA: i == 1})
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(t, ad, uint64(11+i))
		out := filepath.Join(root, filepath.Base(dir))
		if err := ad.Save(out); err != nil {
			t.Fatal(err)
		}
		abs, _ := filepath.Abs(dir)
		lp := logprobs(t, m, false)
		f, _ := os.Create(filepath.Join(out, "go_logprobs.json"))
		enc := `{"base": "` + abs + `", "ids": ` + jsonInts(seq[0]) + `, "logprobs": [`
		for j, v := range lp {
			if j > 0 {
				enc += ","
			}
			enc += strings.TrimRight(strings.TrimRight(fmtFloat(v), "0"), ".")
		}
		f.WriteString(enc + "]}")
		f.Close()
	}
}

func jsonInts(a []int) string {
	s := "["
	for i, v := range a {
		if i > 0 {
			s += ","
		}
		s += strconv.Itoa(v)
	}
	return s + "]"
}

func fmtFloat(v float32) string { return strconv.FormatFloat(float64(v), 'f', 8, 32) }

// TestQLoRAMerge: adapters on an NF4 base model merge into a 16-bit checkpoint that reproduces the
// adapted 4-bit model (float32 merge, so only the NF4 dequantization is shared).
func TestQLoRAMerge(t *testing.T) {
	for _, dq := range []bool{false, true} {
		testQLoRAMerge(t, dq)
	}
}

func testQLoRAMerge(t *testing.T, doubleQuant bool) {
	be, _ := backend.Default()
	m, err := model.Load(qwenDir, be, model.LoadOptions{DType: dtypes.Float32, Load4Bit: true, DoubleQuant: doubleQuant})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ad, err := Attach(m, Config{R: 8, Alpha: 16})
	if err != nil {
		t.Fatal(err)
	}
	randomizeB(t, ad, 9)
	checkMerged(t, m, ad)
}
