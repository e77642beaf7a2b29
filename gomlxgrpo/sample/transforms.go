// Package sample turns next-token logits into tokens and runs batched generation over the model's KV cache.
//
// The transforms follow transformers' logits warpers, applied in its order: temperature, top-k,
// top-p, min-p. Each works in place on one row of float32 logits; masked entries become -Inf.
package sample

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Params are the sampling settings, named as in transformers / TRL.
type Params struct {
	Greedy      bool    // argmax; the other fields are ignored
	Temperature float64 // > 0; 1 leaves logits unchanged
	TopK        int     // 0 disables
	TopP        float64 // 1 disables
	MinP        float64 // 0 disables
}

// DefaultParams are TRL's GRPO sampling defaults: temperature 1, top_p 1, top_k 0, no min_p.
func DefaultParams() Params { return Params{Temperature: 1, TopP: 1} }

var negInf = float32(math.Inf(-1))

// Temperature divides logits by t.
func Temperature(logits []float32, t float64) {
	if t == 1 || t <= 0 {
		return
	}
	inv := float32(1 / t)
	for i := range logits {
		logits[i] *= inv
	}
}

// TopK keeps the k largest logits (ties at the k-th value kept, as transformers does).
func TopK(logits []float32, k int) {
	if k <= 0 || k >= len(logits) {
		return
	}
	s := append([]float32(nil), logits...)
	sort.Slice(s, func(i, j int) bool { return s[i] > s[j] })
	kth := s[k-1]
	for i, v := range logits {
		if v < kth {
			logits[i] = negInf
		}
	}
}

// TopP keeps the smallest set of most likely tokens whose probability sums to at least p
// (transformers' TopPLogitsWarper: removes tokens whose ascending cumulative probability is ≤ 1-p, always keeping one).
func TopP(logits []float32, p float64) {
	if p >= 1 {
		return
	}
	probs := Softmax(logits)
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] < logits[idx[b]] })
	cum := 0.0
	for n, i := range idx {
		cum += float64(probs[i])
		if n == len(idx)-1 {
			break // keep at least the most likely
		}
		if cum <= 1-p {
			logits[i] = negInf
		}
	}
}

// MinP removes tokens whose probability is below minP × the top token's probability.
func MinP(logits []float32, minP float64) {
	if minP <= 0 {
		return
	}
	probs := Softmax(logits)
	top := float32(0)
	for _, q := range probs {
		top = max(top, q)
	}
	thr := float32(minP) * top
	for i, q := range probs {
		if q < thr {
			logits[i] = negInf
		}
	}
}

// Softmax returns exp(l - max) / Σ exp(l - max) in a new slice.
func Softmax(logits []float32) []float32 {
	m := negInf
	for _, v := range logits {
		m = max(m, v)
	}
	out := make([]float32, len(logits))
	sum := 0.0
	for i, v := range logits {
		e := math.Exp(float64(v - m))
		out[i] = float32(e)
		sum += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / sum)
	}
	return out
}

// Argmax returns the first index of the largest value (torch.argmax's tie rule).
func Argmax(logits []float32) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return best
}

// Pick applies p to logits (modified in place) and draws one token with rng; it also returns the
// token's log-probability under the transformed distribution.
func Pick(logits []float32, p Params, rng *rand.Rand) (int, float64) {
	if p.Greedy {
		tok := Argmax(logits)
		return tok, logProbAt(logits, tok)
	}
	Temperature(logits, p.Temperature)
	TopK(logits, p.TopK)
	if p.TopP > 0 {
		TopP(logits, p.TopP)
	}
	MinP(logits, p.MinP)
	probs := Softmax(logits)
	u := rng.Float64()
	cum := 0.0
	last := 0
	for i, q := range probs {
		if q == 0 {
			continue
		}
		last = i
		cum += float64(q)
		if u < cum {
			return i, math.Log(float64(q))
		}
	}
	return last, math.Log(float64(probs[last]))
}

func logProbAt(logits []float32, tok int) float64 {
	m := negInf
	for _, v := range logits {
		m = max(m, v)
	}
	sum := 0.0
	for _, v := range logits {
		sum += math.Exp(float64(v - m))
	}
	return float64(logits[tok]-m) - math.Log(sum)
}

// RowRNG is the random stream of one sampled row: reproducible per (seed, stream), independent of
// batch composition (nanochat and ollama seed per rollout the same way).
func RowRNG(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream^0x9E3779B97F4A7C15))
}
