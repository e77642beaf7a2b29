package model

import (
	. "github.com/gomlx/gomlx/core/graph"
	gmodel "github.com/gomlx/gomlx/ml/model"
)

// Linear is PyTorch's nn.Linear over weights held in the store:
//
//	y = x·Wᵀ + b,   x [..., In], W [Out, In], b [Out], y [..., Out]
//
// Weight sources other than a dense variable (NF4) and adapters (LoRA) plug in through Source and Adapter.
type Linear struct {
	Name    string           // Hugging Face module name, e.g. "model.layers.0.self_attn.q_proj"
	Weight  *gmodel.Variable // [Out, In]; nil when Source is set
	Bias    *gmodel.Variable // [Out] or nil
	In, Out int

	// Source, when set, builds the dense weight [Out, In] in the graph (e.g. NF4 dequantization).
	Source func(g *Graph) *Node
	// NF4Packed [Out·In/2] uint8 and NF4Absmax [Out·In/64] float32 hold a 4-bit weight (quant package).
	// With double quantization NF4Absmax is nil and absmax is NF4Code[NF4AbsmaxQ]·NF4Absmax2 + NF4Offset.
	NF4Packed, NF4Absmax                       *gmodel.Variable
	NF4AbsmaxQ, NF4Absmax2, NF4Code, NF4Offset *gmodel.Variable
	// Adapter, when set, adds its output to y (e.g. LoRA: scale·(x·Aᵀ)·Bᵀ); it reads its trainable
	// variables through param, which may mark them for the backward pass (gradorder.go). Skipped when
	// adapters are disabled.
	Adapter func(x *Node, param func(*gmodel.Variable) *Node) *Node
	// LoRAA [r, In], LoRAB [Out, r] and LoRAScale describe a LoRA Adapter as data, for decode paths
	// outside the graph (the CUDA kernels) that read the adapter's buffers in place.
	LoRAA, LoRAB *gmodel.Variable
	LoRAScale    float64

	dequant func(packed, absmax *Node) *Node // NF4: the weight [Out, In] from its codes and block scales (nf4.go)
}

// WeightNode returns W [Out, In] in graph g.
func (l *Linear) WeightNode(g *Graph) *Node {
	if l.Source != nil {
		return l.Source(g)
	}
	return l.Weight.NodeValue(g)
}

// Apply computes y = x·Wᵀ + b (+ adapter(x) when withAdapter). x: [..., In] → y: [..., Out].
func (l *Linear) Apply(x *Node, withAdapter bool) *Node { return l.apply(x, withAdapter, false, nil) }

// apply is Apply; with checkpointed (inside a gradient-checkpointed layer) an NF4 weight is
// dequantized from x's side of the checkpoint (recomputedWeight), so the backward pass does not
// keep the forward pass's bf16 copy; order (may be nil) orders the adapter's gradients.
func (l *Linear) apply(x *Node, withAdapter, checkpointed bool, order *gradOrder) *Node {
	g := x.Graph()
	var w *Node
	if checkpointed && l.dequant != nil {
		w = l.recomputedWeight(x)
	} else {
		w = l.WeightNode(g)
	}
	w = ConvertDType(w, x.DType())
	y := halfDot(x, w).EinsumAxes([][2]int{{x.Rank() - 1, 1}}, nil) // [..., Out]
	if l.Bias != nil {
		y = Add(y, ExpandLeftToRank(ConvertDType(l.Bias.NodeValue(g), y.DType()), y.Rank()))
	}
	if withAdapter && l.Adapter != nil {
		param := func(v *gmodel.Variable) *Node { return order.param(v.NodeValue(g)) }
		y = Add(y, ConvertDType(l.Adapter(x, param), y.DType()))
	}
	return y
}
