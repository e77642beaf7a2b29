package model

import (
	. "github.com/gomlx/gomlx/core/graph"
)

// gradOrder makes the backward pass finish each decoder layer's adapter gradients before the
// gradient moves on to the layer below.
//
// Why: a LoRA weight gradient, dA = s·(dy·B)ᵀ·x, reduces over every token and needs the layer's
// input activation x ([B·T, In]: 64 MB per MLP input on the Qwen2.5-1.5B shape at 8 × 464 tokens),
// but nothing downstream of it but the executable's outputs. XLA's scheduler is free to run it late,
// and in the Qwen2.5-1.5B-shape gradient executable it ran those of 9 of the 28 layers at the very
// end, keeping their recomputed activations alive: 1.7 GiB of the 4.5 GiB of temporaries at the
// peak (bench/RESULTS.md, scripts/hlo_liveness.py). Tying the gradient that leaves a layer to that
// layer's adapter gradients (SchedulingBarrier: v + 0·g[0], which XLA cannot fold) bounds what is
// live to about one layer's activations, as PyTorch's eager backward does.
//
// How: the autodiff visits nodes in reverse creation order, so a layer's adapter parameters (read
// through param inside the layer) have their gradients built before the identity at the layer's
// input (layerInput, created before the layer) builds the gradient that leaves it.
type gradOrder struct{ pending []*Node }

// param returns n (an adapter's trainable variable) and records its gradient when the backward pass
// builds it. A nil gradOrder returns n unchanged.
func (o *gradOrder) param(n *Node) *Node {
	if o == nil {
		return n
	}
	return IdentityWithCustomGradient(n, func(_, v *Node) *Node {
		o.pending = append(o.pending, v)
		return v
	})
}

// layerInput returns x (a decoder layer's input); in the backward pass the gradient with respect to
// x waits for the adapter gradients recorded since the previous layerInput: its own layer's.
func (o *gradOrder) layerInput(x *Node) *Node {
	if o == nil {
		return x
	}
	return IdentityWithCustomGradient(x, func(_, v *Node) *Node {
		deps := o.pending
		o.pending = nil
		if len(deps) == 0 {
			return v
		}
		return SchedulingBarrier(v, deps...)
	})
}
