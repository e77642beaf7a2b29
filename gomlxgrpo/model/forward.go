package model

import (
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/layers/attention/pos"
)

// Inputs of one forward pass. With a cache, the T new positions are written at cache index WriteIdx
// and attend to every valid cache entry up to their own index.
type Inputs struct {
	IDs       *Node // [B, T] int32 token ids
	Positions *Node // [B, T] int32 rotary positions (0-based among each row's non-pad tokens)
	// KeyValid [B, S] bool: which key positions hold real tokens (false for left padding).
	// Without a cache S = T; with a cache S is the cache length.
	KeyValid *Node
	// WriteIdx: scalar int32, cache index of the first of the T positions (0 without a cache).
	WriteIdx *Node
	// Cache, when not nil, holds per layer K and V, each [B, K, S, H] (heads before positions, so attention
	// reads it without transposing); Forward replaces its entries with the updated caches.
	Cache []*Node
	// NoAdapters runs the base model (adapters disabled): GRPO's reference policy.
	NoAdapters bool
	// Checkpoint recomputes each decoder layer in the backward pass instead of keeping its activations.
	Checkpoint bool
}

// Forward returns the final hidden states [B, T, D] (after the final norm).
func (m *Model) Forward(in *Inputs) *Node {
	c := m.Config
	g := in.IDs.Graph()
	x := Gather(m.Embed.NodeValue(g), ExpandAxes(in.IDs, -1)) // [B, T, D]
	cos, sin := m.rotary(in.Positions)
	mask := attentionMask(in)                                           // [B, T, S]
	return m.layers(x, cos, sin, in, func(i int, q, k, v *Node) *Node { // q [B, T, N, H]; k, v [B, T, K, H]
		k, v = TransposeAllDims(k, 0, 2, 1, 3), TransposeAllDims(v, 0, 2, 1, 3) // [B, K, T, H]
		if in.Cache != nil {
			kv := in.Cache[2*i : 2*i+2]
			kv[0] = m.writeCache(kv[0], k, in.WriteIdx)
			kv[1] = m.writeCache(kv[1], v, in.WriteIdx)
			k, v = ConvertDType(kv[0], q.DType()), ConvertDType(kv[1], q.DType())
		}
		return groupedAttention(q, k, v, mask, c.NumKVHeads) // [B, T, N·H]
	})
}

// layers runs the decoder layers on x [B, T, D], each under gradient checkpointing when
// in.Checkpoint, and the final norm. attend(i, q, k, v) is layer i's attention (decoderLayer).
func (m *Model) layers(x, cos, sin *Node, in *Inputs, attend func(i int, q, k, v *Node) *Node) *Node {
	var order *gradOrder
	if in.Checkpoint && !in.NoAdapters {
		order = &gradOrder{}
	}
	for i, l := range m.Layers {
		if in.Checkpoint {
			x = x.Checkpoint() // the layer's activations are recomputed in the backward pass
		}
		// After the checkpoint, not before: GoMLX v0.28.6 clones a one-operand optimization barrier
		// (Checkpoint's) as its operand and copies the barrier's attributes onto it, which would
		// erase the custom gradient of a node right below it.
		x = order.layerInput(x)
		x = m.decoderLayer(l, x, cos, sin, func(q, k, v *Node) *Node { return attend(i, q, k, v) }, in, order)
	}
	if in.Checkpoint {
		x = x.StopCheckpoint()
	}
	return rmsNorm(x, m.FinalNorm.NodeValue(x.Graph()), m.Config.RMSNormEps)
}

// Logits projects hidden states [..., D] onto the vocabulary: [..., V] in float32.
func (m *Model) Logits(hidden *Node) *Node {
	return ConvertDType(m.LMHead.Apply(hidden, true), dtypes.Float32)
}

// decoderLayer: x + Attn(RMSNorm(x)), then + MLP(RMSNorm(·)). attend takes the rotated queries
// [B, T, N, H] and keys and values [B, T, K, H] and returns the attention output [B, T, N·H].
func (m *Model) decoderLayer(l *Layer, x, cos, sin *Node, attend func(q, k, v *Node) *Node, in *Inputs, order *gradOrder) *Node {
	c := m.Config
	g := x.Graph()
	adapters, ck := !in.NoAdapters, in.Checkpoint
	B, T := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	N, K, H := c.NumHeads, c.NumKVHeads, c.HeadDim

	h := rmsNorm(x, l.InputNorm.NodeValue(g), c.RMSNormEps)
	var q, k, v *Node
	if l.QKV != nil {
		qkv := l.QKV.apply(h, adapters, ck, order) // [B, T, (N+2K)·H]
		q = SliceAxis(qkv, -1, AxisRange(0, N*H))
		k = SliceAxis(qkv, -1, AxisRange(N*H, (N+K)*H))
		v = SliceAxis(qkv, -1, AxisRange((N+K)*H, (N+2*K)*H))
	} else {
		q, k, v = l.Q.apply(h, adapters, ck, order), l.K.apply(h, adapters, ck, order), l.V.apply(h, adapters, ck, order)
	}
	q = Reshape(q, B, T, N, H)
	k = Reshape(k, B, T, K, H)
	v = Reshape(v, B, T, K, H)
	rope := pos.NewRoPEWithCosSin(cos, sin) // non-interleaved halves: transformers' rotate_half
	q, k = rope.Encode(q, 1), rope.Encode(k, 1)
	attn := attend(q, k, v) // [B, T, N·H]
	x = Add(x, l.O.apply(attn, adapters, ck, order))

	h = rmsNorm(x, l.PostAttnNorm.NodeValue(g), c.RMSNormEps)
	var gate, up *Node
	if l.GateUp != nil {
		gu := l.GateUp.apply(h, adapters, ck, order) // [B, T, 2F]: Phi3MLP chunks it as gate, up
		F := c.IntermediateSize
		gate, up = SliceAxis(gu, -1, AxisRange(0, F)), SliceAxis(gu, -1, AxisRange(F, 2*F))
	} else {
		gate, up = l.Gate.apply(h, adapters, ck, order), l.Up.apply(h, adapters, ck, order)
	}
	// SwiGLU: down(silu(gate) ⊙ up), silu(z) = z·σ(z).
	act := Mul(Mul(gate, Sigmoid(gate)), up)
	return Add(x, l.Down.apply(act, adapters, ck, order))
}

// groupedAttention is causal grouped-query attention:
//
//	scores[b,k,g,t,s] = Σ_h q[b,t,k·G+g,h]·key[b,k,s,h] / √H,  masked where mask[b,t,s] is false
//	out[b,t,k·G+g,h]  = Σ_s softmax_s(scores)·value[b,k,s,h]
//
// q: [B, T, N, H]; key, value: [B, K, S, H]; mask: [B, T, S] bool. Returns [B, T, N·H].
// Softmax runs in float32 as transformers' eager attention does. Long sequences take the queries
// in chunks (attentionQueryChunk), so that no [B, N, T, S] score tensor is built whole. Every
// chunk reads all S keys, though without a cache those past its last query are masked: slicing
// them off would halve a long sequence's scores but give each chunk its own matmul shapes, each
// autotuned by XLA when it compiles (and the 4,096-token step's compile already ran past 4 minutes:
// bench/RESULTS.md, seventh session); the peak, set by the largest chunk, would not move.
func groupedAttention(q, key, value, mask *Node, K int) *Node {
	B, T, N, H := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[2], q.Shape().Dimensions[3]
	S := key.Shape().Dimensions[2]
	G := N / K
	qg := Reshape(q, B, T, K, G, H)
	c := attentionQueryChunk(B, N, T, S)
	if c == T {
		return Reshape(attentionBlock(qg, key, value, mask), B, T, N*H)
	}
	var outs []*Node
	for t0 := 0; t0 < T; t0 += c {
		r := AxisRange(t0, min(T, t0+c))
		outs = append(outs, attentionBlock(SliceAxis(qg, 1, r), key, value, SliceAxis(mask, 1, r)))
	}
	return Reshape(Concatenate(outs, 1), B, T, N*H)
}

// maxAttentionScoreBytes bounds the float32 scores of one attention block (all rows and heads,
// a chunk of queries × all keys): 1 GiB. A Llama-3.1-8B-shaped GRPO batch of 8 × 4,352 tokens
// would otherwise build 19 GiB of scores per layer (and as much again for the softmax).
var maxAttentionScoreBytes = 1 << 30

// SetAttentionScoreLimit sets the bound on one attention block's float32 scores (bytes; 1 GiB by
// default) for graphs built afterwards: larger blocks mean fewer query chunks — fewer ops for XLA
// to compile on long sequences — and more memory at the peak. `grpo bench grpo --attention-block-mib`.
func SetAttentionScoreLimit(bytes int) error {
	if bytes < 1<<20 {
		return fmt.Errorf("attention score limit %d bytes: want at least 1 MiB", bytes)
	}
	maxAttentionScoreBytes = bytes
	return nil
}

// attentionQueryChunk returns how many queries one attention block takes: T when the whole
// [B, N, T, S] float32 score tensor fits maxAttentionScoreBytes, else ⌈T/n⌉ for the fewest n
// chunks whose blocks fit (each chunk is a copy of the attention ops in the graph: halving T until
// it fit gave the Llama-3.1-8B shape at 4,352 tokens 32 chunks per layer where 19 fit).
func attentionQueryChunk(B, N, T, S int) int {
	perQuery := 4 * B * N * S
	n := max(1, (perQuery*T+maxAttentionScoreBytes-1)/maxAttentionScoreBytes)
	c := (T + n - 1) / n
	for c > 1 && perQuery*c > maxAttentionScoreBytes {
		n++
		c = (T + n - 1) / n
	}
	return c
}

// attentionBlock is groupedAttention for the queries qg [B, c, K, G, H] (mask [B, c, S]) over all
// keys; returns [B, c, K, G, H].
func attentionBlock(qg, key, value, mask *Node) *Node {
	H := qg.Shape().Dimensions[4]
	// (DotBuilder.Einsum would drop halfDot's setting: it builds its own DotGeneral.)
	scores := halfDot(qg, key).General([]int{4}, []int{0, 2}, []int{3}, []int{0, 1}) // [B, K, c, G, S]
	scores = TransposeAllAxes(scores, 0, 1, 3, 2, 4)                                 // [B, K, G, c, S]
	scores = ConvertDType(scores, dtypes.Float32)
	scores = MulScalar(scores, 1/math.Sqrt(float64(H)))
	m := ExpandAxes(mask, 1, 2) // [B, 1, 1, c, S]
	m = BroadcastToDims(m, scores.Shape().Dimensions...)
	scores = Where(m, scores, BroadcastToShape(Scalar(qg.Graph(), dtypes.Float32, float32(-math.MaxFloat32)), scores.Shape()))
	probs := ConvertDType(Softmax(scores, -1), value.DType())
	out := halfDot(probs, value).General([]int{4}, []int{0, 1}, []int{2}, []int{0, 1}) // [B, K, G, c, H]
	return TransposeAllAxes(out, 0, 3, 1, 2, 4)                                        // [B, c, K, G, H]
}

// attentionMask builds mask[b,t,s] = (KeyValid[b,s] ∧ s ≤ WriteIdx+t) ∨ s = WriteIdx+t.
// A query always sees itself, so padded rows never take a softmax over nothing (which gives NaN).
func attentionMask(in *Inputs) *Node {
	g := in.IDs.Graph()
	T := in.IDs.Shape().Dimensions[1]
	S := in.KeyValid.Shape().Dimensions[1]
	qIdx := Iota(g, shapes.Make(dtypes.Int32, T, 1), 0) // [T, 1]
	if in.WriteIdx != nil {
		qIdx = Add(qIdx, ConvertDType(in.WriteIdx, dtypes.Int32))
	}
	sIdx := Iota(g, shapes.Make(dtypes.Int32, 1, S), 1) // [1, S]
	causal := LessOrEqual(sIdx, qIdx)                   // [T, S]
	self := Equal(sIdx, qIdx)
	valid := ExpandAxes(in.KeyValid, 1) // [B, 1, S]
	return Or(And(valid, ExpandAxes(causal, 0)), ExpandAxes(self, 0))
}

// rotary returns cos and sin, each [B, T, H/2] in the model dtype, of positions·inv_freq
// (float32 products as in transformers' rotary embedding).
func (m *Model) rotary(positions *Node) (cos, sin *Node) {
	g := positions.Graph()
	inv := Const(g, m.invFreq)                                                                              // [H/2]
	ang := Mul(ExpandAxes(ConvertDType(positions, dtypes.Float32), -1), Reshape(inv, 1, 1, len(m.invFreq))) // [B, T, H/2]
	return ConvertDType(Cos(ang), m.DType), ConvertDType(Sin(ang), m.DType)
}

// rmsNorm is transformers' LlamaRMSNorm: in float32, x / √(mean(x²) + ε), cast back, times weight.
// (GoMLX's norm.RMSNorm owns its own scale variable and keeps the input dtype, so it cannot read
// checkpoint weights or match the float32 upcast.)
func rmsNorm(x, weight *Node, eps float64) *Node {
	dt := x.DType()
	xf := ConvertDType(x, dtypes.Float32)
	variance := ReduceAndKeep(Square(xf), ReduceMean, -1)
	xf = Div(xf, Sqrt(AddScalar(variance, eps))) // (Rsqrt has no gradient in GoMLX v0.28.6)
	return Mul(ExpandLeftToRank(ConvertDType(weight, dt), x.Rank()), ConvertDType(xf, dt))
}

// writeCache writes update [B, K, T, H] into cache [B, K, S, H] at positions writeIdx..writeIdx+T-1.
// XLA does it in place with DynamicUpdateSlice; the pure-Go backend lacks that op, so there it is
// cache' = Where(s in window, update[s - writeIdx], cache), which reads and writes the whole cache.
func (m *Model) writeCache(cache, update, writeIdx *Node) *Node {
	g := cache.Graph()
	update = ConvertDType(update, cache.DType())
	idx := ConvertDType(writeIdx, dtypes.Int32)
	if m.Backend.Capabilities().Operations[compute.OpTypeDynamicUpdateSlice] {
		zero := ScalarZero(g, dtypes.Int32)
		return DynamicUpdateSlice(cache, update, []*Node{zero, zero, idx, zero})
	}
	S, T := cache.Shape().Dimensions[2], update.Shape().Dimensions[2]
	s := Iota(g, shapes.Make(dtypes.Int32, S), 0)
	rel := Sub(s, idx) // [S]
	inWindow := And(GreaterOrEqual(rel, ScalarZero(g, dtypes.Int32)), LessThan(rel, Const(g, int32(T))))
	src := ClipScalar(rel, 0, float64(T-1))                                       // [S]
	gathered := Gather(TransposeAllDims(update, 2, 0, 1, 3), ExpandAxes(src, -1)) // [S, B, K, H]
	gathered = TransposeAllDims(gathered, 1, 2, 0, 3)                             // [B, K, S, H]
	mask := BroadcastToDims(Reshape(inWindow, 1, 1, S, 1), cache.Shape().Dimensions...)
	return Where(mask, gathered, cache)
}
