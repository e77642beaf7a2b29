package sample

import (
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
)

// Sampling on the device, inside the decode step's graph: only the chosen token and its log-prob
// per row leave the device, instead of B×V logits that the host would then scan (at batch 64 and a
// 152k vocabulary that scan took 80% of a decode step on the GPU).
//
// Randomness is counter-based so a row's draws depend only on (seed, stream, token index), never on
// the batch it shares: for row b, token t, vocabulary entry v,
//
//	x = mix(mix(mix(v·φ ⊕ k1_b) ⊕ k2_b) ⊕ (t+1)·c),  mix = Wellons' lowbias32 (a bijection on uint32)
//	u = (⌊x / 2⁹⌋ + ½) / 2²³ ∈ (0, 1)
//
// 23 bits, not 24: with 24 the largest value, 1 − 2⁻²⁵, rounds to 1.0 in float32, its Gumbel noise
// is +∞, and on a masked entry (−∞ + ∞ = NaN) XLA's argmax picked that masked token (found on the
// H200 by the CUDA sampler test: a top-k draw with log-prob −∞, ~7% of steps at 8 × 152k).
//	token = argmax_v (l'_v − log(−log u_v))     (Gumbel-max: an exact draw from softmax(l'))
//
// where l' are the logits after transformers' warpers in its order: temperature, top-k, top-p,
// min-p (masked entries −∞), as the host transforms in transforms.go apply them.

// Mode selects a compiled variant of the sampling graph.
type Mode int

const (
	ModeGreedy Mode = iota // argmax of the raw logits
	ModeSample             // temperature and min-p
	ModeSorted             // also top-k and/or top-p, which need the logits sorted
)

// ModeOf returns the cheapest graph variant that implements p.
func ModeOf(p Params) Mode {
	switch {
	case p.Greedy:
		return ModeGreedy
	case p.TopK > 0 || (p.TopP > 0 && p.TopP < 1):
		return ModeSorted
	}
	return ModeSample
}

// SamplerInputs are the per-step graph inputs of the device sampler.
type SamplerInputs struct {
	Key1, Key2 *graph.Node // [B] uint32: the row's random stream (RowKeys)
	Step       *graph.Node // scalar int32: index of the token being drawn within the completion
	// Temperature, TopP, MinP: float32 scalars; TopK: int32 scalar (0 disables).
	Temperature, TopK, TopP, MinP *graph.Node
}

// NumSamplerInputs is the number of graph inputs SamplerArgs produces.
const NumSamplerInputs = 7

// SamplerArgs returns the host values of the sampler's inputs, in SamplerInputs' order.
func SamplerArgs(k1, k2 []uint32, step int, p Params) []any {
	temp, topK, topP, minP := p.Normalized()
	return []any{k1, k2, int32(step), temp, topK, topP, minP}
}

// Normalized returns the settings the device samplers apply: temperature (1 when ≤ 0), top-k (0,
// off, when negative), top-p (1, off, outside (0, 1]) and min-p (0 when negative).
func (p Params) Normalized() (temperature float32, topK int32, topP, minP float32) {
	temp := p.Temperature
	if temp <= 0 {
		temp = 1
	}
	tp := p.TopP
	if tp <= 0 || tp > 1 {
		tp = 1
	}
	return float32(temp), int32(max(p.TopK, 0)), float32(tp), float32(max(p.MinP, 0))
}

// SamplerFromInputs wraps the NumSamplerInputs graph inputs (in SamplerArgs' order).
func SamplerFromInputs(in []*graph.Node) *SamplerInputs {
	return &SamplerInputs{Key1: in[0], Key2: in[1], Step: in[2], Temperature: in[3], TopK: in[4], TopP: in[5], MinP: in[6]}
}

// RowKeys derives the two 32-bit keys of a row's stream from (seed, stream) with splitmix64.
func RowKeys(seed, stream uint64) (uint32, uint32) {
	z := splitmix64(seed ^ splitmix64(stream^0x9E3779B97F4A7C15))
	return uint32(z), uint32(z >> 32)
}

func splitmix64(z uint64) uint64 {
	z += 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

const (
	phi32   = 0x9E3779B9
	stepMul = 0x85EBCA6B
)

// lowbias32 is Chris Wellons' integer hash (https://nullprogram.com/blog/2018/07/31/).
func lowbias32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

// Uniform is the host reference of the device's uniform for (k1, k2, step, v); see the formula above.
func Uniform(k1, k2 uint32, step, v int) float32 {
	x := lowbias32(lowbias32(lowbias32(uint32(v)*phi32^k1)^k2) ^ (uint32(step)+1)*stepMul)
	return (float32(x>>9) + 0.5) * (1.0 / (1 << 23))
}

func mixGraph(x *graph.Node) *graph.Node {
	g := x.Graph()
	x = graph.BitwiseXor(x, graph.BitwiseShiftRightLogicalScalar(x, uint32(16)))
	x = graph.Mul(x, graph.Const(g, uint32(0x7feb352d)))
	x = graph.BitwiseXor(x, graph.BitwiseShiftRightLogicalScalar(x, uint32(15)))
	x = graph.Mul(x, graph.Const(g, uint32(0x846ca68b)))
	return graph.BitwiseXor(x, graph.BitwiseShiftRightLogicalScalar(x, uint32(16)))
}

// UniformGraph returns u [B, V] float32 in (0, 1) for the rows' keys [B] at the scalar step.
func UniformGraph(k1, k2, step *graph.Node, vocab int) *graph.Node {
	g := k1.Graph()
	B := k1.Shape().Dimensions[0]
	v := graph.ConvertDType(graph.Iota(g, shapes.Make(dtypes.Int32, B, vocab), 1), dtypes.Uint32)
	x := graph.BitwiseXor(graph.Mul(v, graph.Const(g, uint32(phi32))), graph.ExpandAxes(k1, -1))
	x = graph.BitwiseXor(mixGraph(x), graph.ExpandAxes(k2, -1))
	s := graph.Mul(graph.Add(graph.ConvertDType(step, dtypes.Uint32), graph.Const(g, uint32(1))), graph.Const(g, uint32(stepMul)))
	x = mixGraph(graph.BitwiseXor(mixGraph(x), s))
	hi := graph.ConvertDType(graph.BitwiseShiftRightLogicalScalar(x, uint32(9)), dtypes.Float32)
	return graph.MulScalar(graph.AddScalar(hi, 0.5), 1.0/(1<<23))
}

// Warp applies temperature, top-k, top-p and min-p to logits [B, V] float32 (mode ModeSample or
// ModeSorted), returning the warped logits with removed entries at −∞.
func Warp(logits *graph.Node, in *SamplerInputs, mode Mode) *graph.Node {
	g := logits.Graph()
	B, V := logits.Shape().Dimensions[0], logits.Shape().Dimensions[1]
	negInfs := graph.Infinity(g, dtypes.Float32, -1)
	x := graph.Div(logits, in.Temperature)
	if mode == ModeSorted {
		sorted := graph.Sort(x, 1, false) // [B, V] descending
		// top-k: keep x ≥ the k-th largest (ties at the k-th value kept, as transformers does).
		kIdx := graph.Min(graph.Max(graph.Sub(in.TopK, graph.Const(g, int32(1))), graph.Const(g, int32(0))), graph.Const(g, int32(V-1)))
		kth := pickPerRow(sorted, graph.BroadcastToDims(kIdx, B)) // [B]
		kth = graph.Where(graph.GreaterThan(in.TopK, graph.Const(g, int32(0))), kth, graph.BroadcastToDims(negInfs, B))
		sorted = graph.Where(graph.LessThan(sorted, graph.ExpandAxes(kth, -1)), graph.BroadcastToDims(negInfs, B, V), sorted)
		// top-p over the top-k survivors: keep sorted entry j while the mass before it, C_{j-1}, is < p
		// (transformers removes ascending-cumulative mass ≤ 1−p; always keeps the top entry).
		q := graph.Softmax(sorted, 1)
		before := graph.Sub(graph.CumSum(q, 1), q)
		first := graph.Equal(graph.Iota(g, shapes.Make(dtypes.Int32, B, V), 1), graph.Const(g, int32(0)))
		keep := graph.Or(graph.LessThan(before, in.TopP), first)
		nKeep := graph.ReduceSum(graph.ConvertDType(keep, dtypes.Int32), 1) // [B] ≥ 1
		cut := pickPerRow(sorted, graph.Sub(nKeep, graph.Const(g, int32(1))))
		cut = graph.Where(graph.GreaterOrEqual(in.TopP, graph.Const(g, float32(1))), graph.BroadcastToDims(negInfs, B), cut)
		cut = graph.Max(cut, kth)
		x = graph.Where(graph.LessThan(x, graph.ExpandAxes(cut, -1)), graph.BroadcastToDims(negInfs, B, V), x)
	}
	// min-p: drop p_v < minP·p_max ⇔ x_v < max(x) + log(minP) (log 0 = −∞ drops nothing).
	thr := graph.Add(graph.ReduceMax(x, 1), graph.Log(in.MinP))
	return graph.Where(graph.LessThan(x, graph.ExpandAxes(thr, -1)), graph.BroadcastToDims(negInfs, B, V), x)
}

// SampleGraph draws one token per row from logits [B, V] float32 and returns the tokens [B] int32
// and their log-probabilities [B] float32 under the warped distribution (the raw one when greedy).
func SampleGraph(logits *graph.Node, in *SamplerInputs, mode Mode) (tokens, logps *graph.Node) {
	V := logits.Shape().Dimensions[1]
	x := logits
	if mode == ModeGreedy {
		tokens = graph.ArgMax(x, 1, dtypes.Int32)
	} else {
		x = Warp(logits, in, mode)
		u := UniformGraph(in.Key1, in.Key2, in.Step, V)
		gumbel := graph.Neg(graph.Log(graph.Neg(graph.Log(u))))
		tokens = graph.ArgMax(graph.Add(x, gumbel), 1, dtypes.Int32)
	}
	logp := graph.LogSoftmax(x, 1)
	return tokens, pickPerRow(logp, tokens)
}

// pickPerRow returns x[b, idx[b]] for x [B, V] and idx [B] int32.
func pickPerRow(x, idx *graph.Node) *graph.Node {
	g := x.Graph()
	B := x.Shape().Dimensions[0]
	rows := graph.Iota(g, shapes.Make(dtypes.Int32, B, 1), 0)
	return graph.Gather(x, graph.Concatenate([]*graph.Node{rows, graph.ExpandAxes(idx, -1)}, 1))
}
