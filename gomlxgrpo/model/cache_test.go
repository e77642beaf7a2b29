package model_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// TestCacheMatchesFullForward checks, for each architecture, that the log-probabilities of greedy
// tokens decoded through the KV cache equal those of one full forward pass over prompt+completion.
func TestCacheMatchesFullForward(t *testing.T) {
	for _, arch := range hf.Supported {
		t.Run(string(arch), func(t *testing.T) {
			m := loadF32(t, writeRandomCheckpoint(t, arch, arch == hf.Qwen2))
			gen, err := sample.NewGenerator(m)
			if err != nil {
				t.Fatal(err)
			}
			defer gen.Close()
			prompts := [][]int{{5, 9, 13, 17, 21, 3, 7}, {11, 12, 13}}
			res, err := gen.Generate(&sample.Request{Prompts: prompts, MaxNewTokens: 6, Params: sample.Params{Greedy: true}})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range prompts {
				full := append(append([]int(nil), p...), res.Tokens[i]...)
				lp, err := m.NextTokenLogProbs([][]int{full}, false)
				if err != nil {
					t.Fatal(err)
				}
				for j, want := range res.LogProbs[i] {
					got := float64(lp[0][len(p)-1+j])
					if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
						t.Errorf("row %d token %d: cached decode log-prob %v, full forward %v", i, j, want, got)
					}
				}
			}
		})
	}
}

// TestSharedPrefill checks that prompts repeated in a batch (GRPO's G samples per prompt), whose
// KV cache is computed once and copied to each row, sample exactly what each row samples when
// generated alone with the same random stream, and that the sampled log-probs are the model's.
func TestSharedPrefill(t *testing.T) {
	m := loadF32(t, writeRandomCheckpoint(t, hf.Llama, false))
	gen, err := sample.NewGenerator(m)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	a, b := []int{5, 9, 13, 17, 21, 3, 7}, []int{11, 12, 13}
	prompts := [][]int{a, a, a, b, b, a}
	streams := []uint64{7, 8, 9, 10, 11, 12}
	params := sample.DefaultParams() // temperature 1: sampled log-probs are the model's
	res, err := gen.Generate(&sample.Request{Prompts: prompts, MaxNewTokens: 8, Params: params, Seed: 42, Streams: streams})
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for i, p := range prompts {
		alone, err := gen.Generate(&sample.Request{Prompts: [][]int{p}, MaxNewTokens: 8, Params: params, Seed: 42, Streams: streams[i : i+1]})
		if err != nil {
			t.Fatal(err)
		}
		equalIDs(t, "shared prefill vs alone", res.Tokens[i], alone.Tokens[0])
		distinct[fmt.Sprint(res.Tokens[i])] = true
		full := append(append([]int(nil), p...), res.Tokens[i]...)
		lp, err := m.NextTokenLogProbs([][]int{full}, false)
		if err != nil {
			t.Fatal(err)
		}
		for j, got := range res.LogProbs[i] {
			want := float64(lp[0][len(p)-1+j])
			if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
				t.Errorf("row %d token %d: sampled log-prob %v, full forward %v", i, j, got, want)
			}
		}
	}
	if len(distinct) < 4 {
		t.Errorf("rows sharing a prompt sampled the same completions (%d distinct of %d): the shared cache must not share the random streams", len(distinct), len(prompts))
	}
}
