package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// golden is what scripts/make_model_goldens.py records from transformers.
type golden struct {
	Transformers string    `json:"transformers"`
	IDs          []int     `json:"ids"`
	LogProbs     []float64 `json:"logprobs"`
	Batch        struct {
		Rows     [][]int     `json:"rows"`
		LogProbs [][]float64 `json:"logprobs"`
	} `json:"batch"`
	Greedy struct {
		Prompts   [][]int `json:"prompts"`
		NewTokens int     `json:"new_tokens"`
		Alone     [][]int `json:"alone"`
		Batched   [][]int `json:"batched"`
	} `json:"greedy"`
}

// goldenDirs lists the checkpoints written by scripts/make_model_goldens.py.
func goldenDirs(t *testing.T) []string {
	dirs, _ := filepath.Glob("testdata/models/*")
	var out []string
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "golden.json")); err == nil {
			out = append(out, d)
		}
	}
	if len(out) < 6 {
		t.Fatalf("expected 6 golden checkpoints under testdata/models (run scripts/make_model_goldens.py), found %d", len(out))
	}
	return out
}

func loadGolden(t *testing.T, dir string) *golden {
	data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// closeRel checks |got-want| ≤ tol·max(1,|want|) for every element (float32 vs transformers' float32).
func closeRel(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		d := math.Abs(float64(got[i])-want[i]) / math.Max(1, math.Abs(want[i]))
		if math.IsNaN(float64(got[i])) || d > tol {
			t.Errorf("%s[%d] = %v, transformers %v (rel diff %.2g > %.0g)", what, i, got[i], want[i], d, tol)
			return
		}
		worst = math.Max(worst, d)
	}
	t.Logf("%s: %d values, worst relative difference %.2g", what, len(want), worst)
}

func loadF32(t *testing.T, dir string) *model.Model {
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

// TestGoldenLogProbs compares per-token log-probabilities with transformers (fp32, 1e-4 relative),
// for one sequence and for a left-padded batch.
func TestGoldenLogProbs(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			g := loadGolden(t, dir)
			m := loadF32(t, dir)
			lp, err := m.NextTokenLogProbs([][]int{g.IDs}, false)
			if err != nil {
				t.Fatal(err)
			}
			closeRel(t, "logprobs", lp[0], g.LogProbs, 1e-4)
			blp, err := m.NextTokenLogProbs(g.Batch.Rows, false)
			if err != nil {
				t.Fatal(err)
			}
			for i := range g.Batch.Rows {
				closeRel(t, "batch row", blp[i], g.Batch.LogProbs[i], 1e-4)
			}
		})
	}
}

// TestGoldenGreedy compares greedy continuations token for token, alone and as a left-padded batch
// through the KV cache.
func TestGoldenGreedy(t *testing.T) {
	for _, dir := range goldenDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			g := loadGolden(t, dir)
			m := loadF32(t, dir)
			gen, err := sample.NewGenerator(m)
			if err != nil {
				t.Fatal(err)
			}
			defer gen.Close()
			for i, p := range g.Greedy.Prompts {
				res, err := gen.Generate(&sample.Request{Prompts: [][]int{p}, MaxNewTokens: g.Greedy.NewTokens, Params: sample.Params{Greedy: true}})
				if err != nil {
					t.Fatal(err)
				}
				equalIDs(t, "alone", res.Tokens[0], g.Greedy.Alone[i])
			}
			res, err := gen.Generate(&sample.Request{Prompts: g.Greedy.Prompts, MaxNewTokens: g.Greedy.NewTokens, Params: sample.Params{Greedy: true}})
			if err != nil {
				t.Fatal(err)
			}
			for i := range g.Greedy.Prompts {
				equalIDs(t, "batched", res.Tokens[i], g.Greedy.Batched[i])
				if !res.Truncated[i] {
					t.Errorf("row %d: no stop tokens given, so the row must end truncated", i)
				}
			}
		})
	}
}

func equalIDs(t *testing.T, what string, got, want []int) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d tokens %v, transformers %d %v", what, len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: token %d differs: got %v, transformers %v", what, i, got, want)
		}
	}
}
