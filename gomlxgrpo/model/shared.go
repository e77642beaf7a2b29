package model

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// SharedPrompt is the prompt side of a batch whose B rows come in U groups of G = B/U consecutive
// rows with one prompt each: GRPO's G completions of a prompt. ForwardShared runs each prompt once.
//
// Why: in Forward over the rows [prompt | completion], every position-wise op (embedding, norms,
// the seven projections and their adapters, the MLP) and the prompt's own attention run G times
// on the same prompt positions, with the same weights and so the same results. Run once, a GRPO
// batch of G = 8 completions of 200 tokens after a 256-token prompt takes 256 + 8·208 positions
// through the layers instead of 8·(256 + 208): 0.52 of the matmul work in the log-prob and
// training passes. In the backward pass the G rows' gradients reaching the prompt's keys and
// values add up where the prompt's activations were broadcast, as they would across its G copies.
type SharedPrompt struct {
	IDs       *Node // [U, P] int32, left-padded as Forward's rows are
	Positions *Node // [U, P] int32 rotary positions
	KeyValid  *Node // [U, P] bool, false on the left padding
}

// ForwardShared is Forward over a batch in the shared-prompt layout. prompt holds the U distinct
// prompts; in.IDs, in.Positions and in.KeyValid hold the B rows' completions [B, C], row b's
// prompt being prompt row b/G (G = B/U). A completion position j attends to its prompt's valid
// positions and to its completion's valid positions up to j (and always to itself): the keys that
// position P+j of the row [prompt | completion] sees in Forward, with the same mask rule. Every
// layer holds the batch's positions as one sequence [1, U·P + B·C, D], so the projections take all
// of them in one matmul and gradient checkpointing sees one tensor per layer.
//
// in.Cache and in.WriteIdx must be nil. Returns the final hidden states (after the final norm) of
// the prompts, hp [U, P, D], and of the completions, hc [B, C, D].
func (m *Model) ForwardShared(in *Inputs, prompt *SharedPrompt) (hp, hc *Node) {
	c := m.Config
	g := in.IDs.Graph()
	U, P := prompt.IDs.Shape().Dimensions[0], prompt.IDs.Shape().Dimensions[1]
	B, C := in.IDs.Shape().Dimensions[0], in.IDs.Shape().Dimensions[1]
	if in.Cache != nil || in.WriteIdx != nil || U == 0 || B%U != 0 {
		panic(fmt.Errorf("ForwardShared: %d completion rows for %d prompts (want a multiple, no cache)", B, U))
	}
	G, K := B/U, c.NumKVHeads
	flat := func(p, q *Node) *Node { // [U, P, ...] and [B, C, ...] → [1, U·P + B·C, ...]
		dp, dq := p.Shape().Dimensions[2:], q.Shape().Dimensions[2:]
		return Concatenate([]*Node{Reshape(p, append([]int{1, U * P}, dp...)...), Reshape(q, append([]int{1, B * C}, dq...)...)}, 1)
	}
	split := func(x *Node) (p, q *Node) { // the inverse of flat
		rest := x.Shape().Dimensions[2:]
		p = Reshape(SliceAxis(x, 1, AxisRange(0, U*P)), append([]int{U, P}, rest...)...)
		q = Reshape(SliceAxis(x, 1, AxisRange(U*P, U*P+B*C)), append([]int{B, C}, rest...)...)
		return p, q
	}
	ids := flat(ExpandAxes(prompt.IDs, -1), ExpandAxes(in.IDs, -1))                                         // [1, Tt, 1]
	x := Gather(m.Embed.NodeValue(g), ids)                                                                  // [1, Tt, D]
	cos, sin := m.rotary(Squeeze(flat(ExpandAxes(prompt.Positions, -1), ExpandAxes(in.Positions, -1)), -1)) // [1, Tt, H/2]
	maskP := attentionMask(&Inputs{IDs: prompt.IDs, KeyValid: prompt.KeyValid})                             // [U, P, P]
	// A completion query sees its prompt's valid keys, then its completion's (Forward's rule).
	promptKeys := BroadcastToDims(ExpandAxes(groupRows(prompt.KeyValid, G), 1), B, C, P) // [B, C, P]
	maskC := Concatenate([]*Node{promptKeys, attentionMask(in)}, 2)                      // [B, C, P+C]
	x = m.layers(x, cos, sin, in, func(_ int, q, k, v *Node) *Node {                     // q [1, Tt, N, H]; k, v [1, Tt, K, H] → [1, Tt, N·H]
		qp, qc := split(q)
		kp, kc := split(k)
		vp, vc := split(v)
		kp, vp = TransposeAllDims(kp, 0, 2, 1, 3), TransposeAllDims(vp, 0, 2, 1, 3) // [U, K, P, H]
		kc, vc = TransposeAllDims(kc, 0, 2, 1, 3), TransposeAllDims(vc, 0, 2, 1, 3) // [B, K, C, H]
		op := groupedAttention(qp, kp, vp, maskP, K)                                // [U, P, N·H]
		keys := Concatenate([]*Node{groupRows(kp, G), kc}, 2)                       // [B, K, P+C, H]
		values := Concatenate([]*Node{groupRows(vp, G), vc}, 2)
		oc := groupedAttention(qc, keys, values, maskC, K) // [B, C, N·H]
		return flat(op, oc)
	}) // [1, Tt, D], after the final norm
	return split(x)
}

// groupRows repeats each row of x [U, ...] for its G consecutive rows: [U·G, ...]. (Its gradient
// adds the G rows' gradients into their prompt's row.)
func groupRows(x *Node, G int) *Node {
	if G == 1 {
		return x
	}
	dims := x.Shape().Dimensions
	e := ExpandAxes(x, 1) // [U, 1, ...]
	e = BroadcastToDims(e, append([]int{dims[0], G}, dims[1:]...)...)
	return Reshape(e, append([]int{dims[0] * G}, dims[1:]...)...)
}

// SharedCompletionHidden returns the hidden states that predict a shared-prompt batch's completion
// tokens: position P−1 of each row's prompt (it predicts completion token 0) followed by the
// completion positions 0 … C−2. hp [U, P, D], hc [B, C, D] → [B, C, D], what Forward's rows give
// at positions P−1 … P+C−2.
func SharedCompletionHidden(hp, hc *Node) *Node {
	U, P := hp.Shape().Dimensions[0], hp.Shape().Dimensions[1]
	B, C := hc.Shape().Dimensions[0], hc.Shape().Dimensions[1]
	last := groupRows(SliceAxis(hp, 1, AxisRange(P-1, P)), B/U) // [B, 1, D]
	return Concatenate([]*Node{last, SliceAxis(hc, 1, AxisRange(0, C-1))}, 1)
}
