package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/quant"
)

// loadNF4 fills l with an NF4 weight: read pre-quantized (bitsandbytes' serialization, see
// bitsandbytes/functional.py QuantState.as_dict(packed=True)) or quantized here from the 16/32-bit
// checkpoint. The weight lives on the device as packed uint8 codes plus float32 absmax, and the
// forward pass dequantizes it in the graph (quant.DequantizeGraph).
func (m *Model) loadNF4(use *hf.Consumer, l *Linear) error {
	name := l.Name + ".weight"
	var q *quant.Quantized
	if use.Has(name + ".absmax") {
		var err error
		if q, err = readBnB4bit(use, name, l.Out, l.In); err != nil {
			return err
		}
	} else {
		info, err := use.Take(name, []int{l.Out, l.In})
		if err != nil {
			return err
		}
		w, err := m.scratch.float32s(info)
		if err != nil {
			return err
		}
		q = quant.QuantizeNF4(w, l.Out, l.In)
	}
	if (l.Out*l.In)%quant.BlockSize != 0 {
		return fmt.Errorf("%s: %d×%d is not a multiple of the 4-bit block size %d", name, l.Out, l.In, quant.BlockSize)
	}
	dev := func(path string, t *tensors.Tensor) (*gmodel.Variable, error) {
		if err := toDevice(t, m.Backend); err != nil {
			return nil, err
		}
		v, err := m.Store.CreateVariable(path, t)
		if err != nil {
			return nil, err
		}
		v.SetTrainable(false)
		return v, nil
	}
	var err error
	if l.NF4Packed, err = dev(varPath(name)+"_nf4", tensors.FromFlatDataAndDimensions(q.Packed, len(q.Packed))); err != nil {
		return err
	}
	dtype, out, in := m.DType, l.Out, l.In
	if m.doubleQuant {
		d := quant.DoubleQuantize(q.Absmax)
		if l.NF4AbsmaxQ, err = dev(varPath(name)+"_absmax_q8", tensors.FromFlatDataAndDimensions(d.Q, len(d.Q))); err != nil {
			return err
		}
		if l.NF4Absmax2, err = dev(varPath(name)+"_absmax2", tensors.FromFlatDataAndDimensions(d.Absmax2, len(d.Absmax2))); err != nil {
			return err
		}
		if l.NF4Code, err = dev(varPath(name)+"_absmax_code", tensors.FromFlatDataAndDimensions(d.Code[:], 256)); err != nil {
			return err
		}
		if l.NF4Offset, err = dev(varPath(name)+"_absmax_offset", tensors.FromScalar(d.Offset)); err != nil {
			return err
		}
	} else if l.NF4Absmax, err = dev(varPath(name)+"_absmax", tensors.FromFlatDataAndDimensions(q.Absmax, len(q.Absmax))); err != nil {
		return err
	}
	l.dequant = func(packed, absmax *Node) *Node { return quant.DequantizeGraph(packed, absmax, dtype, out, in) }
	l.Source = func(g *Graph) *Node { return l.dequant(l.NF4Packed.NodeValue(g), l.AbsmaxNode(g)) }
	return nil
}

// recomputedWeight returns the dequantized NF4 weight [Out, In] for an input x inside a
// gradient-checkpointed layer, made to depend on x so that the backward pass dequantizes it
// again rather than keeping the forward pass's copy.
//
// Why: GoMLX recomputes in the backward pass only the nodes downstream of a checkpoint (its
// rematerialization flag spreads from inputs to outputs). A dequantization that reads only the
// frozen 4-bit parameters is downstream of nothing, so the forward and backward passes share one
// 16-bit copy per projection and XLA keeps every layer's copy alive from its forward use to its
// backward use: the whole model in bf16 (13 GiB for the Llama-3.1-8B shape, whose gradient
// executable had 16.6 GiB of temporaries: bench/RESULTS.md).
//
// The tie is GoMLX's SchedulingBarrier (codes + 0·x[0,…,0], the zero hidden behind an
// optimization barrier, as GoMLX's own checkpointing ties a recomputation to its trigger), which
// XLA cannot fold. A first version passed the codes and a scalar of x through one
// OptimizationBarriers node instead: XLA dropped the barrier's unused scalar output, and with it the
// tie, then merged the two dequantizations again (its optimized HLO on an H100: each projection
// dequantized once, read by the forward and the backward matmuls; scripts/hlo_liveness.py).
func (l *Linear) recomputedWeight(x *Node) *Node {
	g := x.Graph()
	return l.dequant(SchedulingBarrier(l.NF4Packed.NodeValue(g), x), l.AbsmaxNode(g))
}

// AbsmaxNode returns the NF4 block scales [Out·In/64] float32 in graph g.
func (l *Linear) AbsmaxNode(g *Graph) *Node {
	if l.NF4Absmax != nil {
		return l.NF4Absmax.NodeValue(g)
	}
	return quant.NestedAbsmaxGraph(l.NF4AbsmaxQ.NodeValue(g), l.NF4Absmax2.NodeValue(g), l.NF4Code.NodeValue(g), l.NF4Offset.NodeValue(g))
}

// DequantizeNF4 returns the 4-bit weight [Out, In] as float32 on the host (for merged exports).
func (l *Linear) DequantizeNF4() ([]float32, error) {
	if l.NF4Packed == nil {
		return nil, fmt.Errorf("%s is not a 4-bit weight", l.Name)
	}
	q := &quant.Quantized{Shape: []int{l.Out, l.In}, Packed: tensors.MustCopyFlatData[byte](l.NF4Packed.MustValue())}
	if l.NF4Absmax != nil {
		q.Absmax = tensors.MustCopyFlatData[float32](l.NF4Absmax.MustValue())
	} else {
		var err error
		q.Absmax, err = quant.DequantizeNested(tensors.MustCopyFlatData[byte](l.NF4AbsmaxQ.MustValue()),
			tensors.MustCopyFlatData[float32](l.NF4Code.MustValue()), tensors.MustCopyFlatData[float32](l.NF4Absmax2.MustValue()),
			quant.NestedBlockSize, tensors.ToScalar[float32](l.NF4Offset.MustValue()))
		if err != nil {
			return nil, err
		}
	}
	return q.Dequantize(), nil
}

// quantState is the JSON stored in "<weight>.quant_state.bitsandbytes__nf4".
type quantState struct {
	QuantType       string  `json:"quant_type"`
	Blocksize       int     `json:"blocksize"`
	Shape           []int   `json:"shape"`
	NestedBlocksize int     `json:"nested_blocksize"`
	NestedOffset    float64 `json:"nested_offset"`
}

// readBnB4bit reads a pre-quantized weight: packed codes ("weight", uint8), absmax (float32, or
// uint8 with nested_absmax/nested_quant_map when double-quantized), quant_map and the quant state.
func readBnB4bit(use *hf.Consumer, name string, out, in int) (*quant.Quantized, error) {
	raw := func(tensor string) (*hf.TensorInfo, []byte, error) {
		info, err := use.Take(tensor, nil)
		if err != nil {
			return nil, nil, err
		}
		b := make([]byte, info.Size)
		if err := info.ReadRaw(b); err != nil {
			return nil, nil, err
		}
		return info, b, nil
	}
	floats := func(tensor string) ([]float32, error) {
		info, b, err := raw(tensor)
		if err != nil {
			return nil, err
		}
		if info.DType != "F32" {
			return nil, fmt.Errorf("corrupt quant state: %s has dtype %s, want F32", tensor, info.DType)
		}
		f := make([]float32, len(b)/4)
		for i := range f {
			f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return f, nil
	}
	stateName := name + ".quant_state.bitsandbytes__nf4"
	if !use.Has(stateName) {
		return nil, fmt.Errorf("corrupt quant state: %s has absmax but no %s (only NF4 is supported)", name, stateName)
	}
	_, js, err := raw(stateName)
	if err != nil {
		return nil, err
	}
	var st quantState
	if err := json.Unmarshal(js, &st); err != nil {
		return nil, fmt.Errorf("corrupt quant state %s: %w", stateName, err)
	}
	n := out * in
	if st.QuantType != "nf4" || st.Blocksize != quant.BlockSize || len(st.Shape) != 2 || st.Shape[0] != out || st.Shape[1] != in {
		return nil, fmt.Errorf("corrupt quant state %s: %+v, expected nf4 with blocksize %d and shape [%d %d]", stateName, st, quant.BlockSize, out, in)
	}
	info, packed, err := raw(name)
	if err != nil {
		return nil, err
	}
	if info.DType != "U8" || len(packed) != (n+1)/2 {
		return nil, fmt.Errorf("corrupt quant state: %s is %s with %d bytes, want U8 with %d", name, info.DType, len(packed), (n+1)/2)
	}
	qmap, err := floats(name + ".quant_map")
	if err != nil {
		return nil, err
	}
	if len(qmap) != 16 {
		return nil, fmt.Errorf("corrupt quant state: %s.quant_map has %d values, want the 16 of NF4", name, len(qmap))
	}
	for i, v := range qmap {
		if math.Abs(float64(v-quant.NF4[i])) > 1e-6 {
			return nil, fmt.Errorf("corrupt quant state: %s.quant_map[%d] = %v is not NF4's %v", name, i, v, quant.NF4[i])
		}
	}
	nb := (n + quant.BlockSize - 1) / quant.BlockSize
	var absmax []float32
	if use.Has(name + ".nested_absmax") {
		ainfo, q8, err := raw(name + ".absmax")
		if err != nil {
			return nil, err
		}
		if ainfo.DType != "U8" || len(q8) != nb {
			return nil, fmt.Errorf("corrupt quant state: %s.absmax is %s[%d], want U8[%d]", name, ainfo.DType, len(q8), nb)
		}
		a2, err := floats(name + ".nested_absmax")
		if err != nil {
			return nil, err
		}
		code2, err := floats(name + ".nested_quant_map")
		if err != nil {
			return nil, err
		}
		if absmax, err = quant.DequantizeNested(q8, code2, a2, st.NestedBlocksize, float32(st.NestedOffset)); err != nil {
			return nil, fmt.Errorf("corrupt quant state %s: %w", name, err)
		}
	} else {
		if absmax, err = floats(name + ".absmax"); err != nil {
			return nil, err
		}
		if len(absmax) != nb {
			return nil, fmt.Errorf("corrupt quant state: %s.absmax has %d values, want %d", name, len(absmax), nb)
		}
	}
	return &quant.Quantized{Shape: []int{out, in}, Packed: packed, Absmax: absmax}, nil
}
