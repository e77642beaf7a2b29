package model_test

import (
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
