package sample

import (
	"math"
	"testing"
)

// expected computes the distribution the transforms should leave, independently: softmax(l/T),
// keep the top k, keep the smallest prefix (by descending probability) reaching top-p, drop tokens
// under min-p × the top probability, renormalize.
func expected(logits []float64, T float64, k int, p, minP float64) []float64 {
	n := len(logits)
	probs := make([]float64, n)
	m := math.Inf(-1)
	for _, l := range logits {
		m = math.Max(m, l/T)
	}
	s := 0.0
	for i, l := range logits {
		probs[i] = math.Exp(l/T - m)
		s += probs[i]
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for i := range probs {
		probs[i] /= s
	}
	// descending order by probability
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			if probs[order[j]] > probs[order[i]] {
				order[i], order[j] = order[j], order[i]
			}
		}
	}
	keep := make([]bool, n)
	cum := 0.0
	for rank, i := range order {
		if k > 0 && rank >= k {
			break
		}
		keep[i] = true
		cum += probs[i]
		if cum >= p {
			break
		}
	}
	top := probs[order[0]]
	out := make([]float64, n)
	tot := 0.0
	for i := range probs {
		if keep[i] && probs[i] >= minP*top {
			out[i] = probs[i]
			tot += probs[i]
		}
	}
	for i := range out {
		out[i] /= tot
	}
	return out
}

// TestSamplingDistributionChiSquare draws 60,000 tokens from a fixed logit vector under several
// settings and checks the frequencies with a chi-square test (and that filtered tokens never appear).
func TestSamplingDistributionChiSquare(t *testing.T) {
	logits := []float64{2.0, 1.5, 1.2, 0.3, 0.0, -0.4, -1.0, -2.5}
	cases := []struct {
		name string
		p    Params
	}{
		{"plain", Params{Temperature: 1, TopP: 1}},
		{"temperature 0.7", Params{Temperature: 0.7, TopP: 1}},
		{"top-k 3", Params{Temperature: 1, TopP: 1, TopK: 3}},
		{"top-p 0.8", Params{Temperature: 1, TopP: 0.8}},
		{"min-p 0.2", Params{Temperature: 1.3, TopP: 1, MinP: 0.2}},
	}
	const draws = 60000
	for ci, c := range cases {
		want := expected(logits, c.p.Temperature, c.p.TopK, c.p.TopP, c.p.MinP)
		counts := make([]int, len(logits))
		rng := RowRNG(uint64(ci), 1)
		row := make([]float32, len(logits))
		for range draws {
			for i, l := range logits {
				row[i] = float32(l)
			}
			tok, _ := Pick(row, c.p, rng)
			counts[tok]++
		}
		chi2, dof := 0.0, -1
		for i, w := range want {
			if w == 0 {
				if counts[i] != 0 {
					t.Errorf("%s: token %d was filtered out but drawn %d times", c.name, i, counts[i])
				}
				continue
			}
			e := w * draws
			chi2 += (float64(counts[i]) - e) * (float64(counts[i]) - e) / e
			dof++
		}
		// 99.9th percentile of chi-square with ≤ 7 degrees of freedom is 24.3.
		if chi2 > 24.3 {
			t.Errorf("%s: chi-square %.1f with %d dof (counts %v, expected %v)", c.name, chi2, dof, counts, want)
		}
	}
}

func TestGreedyAndLogProb(t *testing.T) {
	row := []float32{0.1, 3, 3, -1}
	tok, lp := Pick(row, Params{Greedy: true}, RowRNG(1, 1))
	if tok != 1 {
		t.Fatalf("greedy picked %d, want the first maximum (1)", tok)
	}
	// log softmax at index 1
	s := 0.0
	for _, v := range row {
		s += math.Exp(float64(v - 3))
	}
	if math.Abs(lp-(0-math.Log(s))) > 1e-6 {
		t.Fatalf("log-prob %v", lp)
	}
}

func TestSeedsReproduce(t *testing.T) {
	draw := func(seed, stream uint64) []int {
		rng := RowRNG(seed, stream)
		var out []int
		for range 20 {
			tok, _ := Pick([]float32{0, 0, 0, 0, 0}, Params{Temperature: 1, TopP: 1}, rng)
			out = append(out, tok)
		}
		return out
	}
	a, b, c := draw(7, 3), draw(7, 3), draw(7, 4)
	same := func(x, y []int) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) || same(a, c) {
		t.Fatal("the same (seed, stream) must reproduce and another stream must differ")
	}
}
