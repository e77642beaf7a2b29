package model

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
)

// Batch is a left-padded batch of token sequences with what the forward pass needs.
type Batch struct {
	IDs       [][]int32 // [B][T], pads on the left
	Positions [][]int32 // [B][T], 0-based among the row's tokens (0 on pads)
	Valid     [][]bool  // [B][T], false on pads
	Lens      []int     // real length of each row
}

// LeftPad builds a Batch from sequences of different lengths, padding on the left with padID to width
// (0 means the longest sequence).
func LeftPad(seqs [][]int, width, padID int) (*Batch, error) {
	for _, s := range seqs {
		width = max(width, len(s))
	}
	b := &Batch{}
	for i, s := range seqs {
		if len(s) == 0 {
			return nil, fmt.Errorf("sequence %d is empty", i)
		}
		ids := make([]int32, width)
		posn := make([]int32, width)
		valid := make([]bool, width)
		off := width - len(s)
		for j := range width {
			if j < off {
				ids[j] = int32(padID)
				continue
			}
			ids[j] = int32(s[j-off])
			posn[j] = int32(j - off)
			valid[j] = true
		}
		b.IDs, b.Positions, b.Valid = append(b.IDs, ids), append(b.Positions, posn), append(b.Valid, valid)
		b.Lens = append(b.Lens, len(s))
	}
	return b, nil
}

// NextTokenLogProbs returns, for each row, log p(ids[t+1] | ids[..t]) for t = 0..len-2, computed in
// float32 from the full-vocabulary log-softmax. It is the reference the chunked GRPO log-probs are
// checked against.
func (m *Model) NextTokenLogProbs(seqs [][]int, noAdapters bool) ([][]float32, error) {
	b, err := LeftPad(seqs, 0, 0)
	if err != nil {
		return nil, err
	}
	exec, err := gmodel.NewExec(m.Backend, m.Store, func(scope *gmodel.Scope, ids, posn, valid *Node) *Node {
		g := ids.Graph()
		hidden := m.Forward(&Inputs{IDs: ids, Positions: posn, KeyValid: valid, WriteIdx: ScalarZero(g, dtypes.Int32), NoAdapters: noAdapters})
		T := ids.Shape().Dimensions[1]
		logits := m.Logits(SliceAxis(hidden, 1, AxisRange(0, T-1))) // [B, T-1, V]
		target := SliceAxis(ids, 1, AxisRange(1, T))                // [B, T-1]
		logp := LogSoftmax(logits, -1)
		return ReduceSum(Mul(logp, OneHot(target, m.Config.VocabSize, dtypes.Float32)), -1)
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	out, err := exec.Call(b.IDs, b.Positions, b.Valid)
	if err != nil {
		return nil, err
	}
	flat := tensors.MustCopyFlatData[float32](out[0])
	T := len(b.IDs[0])
	res := make([][]float32, len(seqs))
	for i, n := range b.Lens {
		row := flat[i*(T-1) : (i+1)*(T-1)]
		res[i] = append([]float32(nil), row[T-n:]...)
	}
	return res, nil
}

// CacheShape is the shape of one layer's K or V cache: [B, K, S, H].
func (m *Model) CacheShape(batch, length int) shapes.Shape {
	return shapes.Make(m.DType, batch, m.Config.NumKVHeads, length, m.Config.HeadDim)
}

// NewStepExec compiles (lazily, per input shape) the cached forward step:
//
//	inputs:  ids [B,T] int32, positions [B,T] int32, keyValid [B,S] bool, writeIdx int32 scalar, then K,V per layer [B,K,S,H]
//	outputs: logits of the last of the T positions [B,V] float32, then the updated K,V per layer
//
// Decoding calls it with T = 1; the prompts' pass is NewPrefillExec (no cache inputs).
func (m *Model) NewStepExec() (*gmodel.Exec, error) {
	return m.NewStepExecHead(0, func(logits *Node, _ []*Node) []*Node { return []*Node{logits} })
}

// NewPrefillExec compiles (lazily, per input shape) the prompts' pass into fresh caches:
//
//	inputs:  ids [B,T] int32, positions [B,T] int32, keyValid [B,S] bool (S: the caches' length)
//	outputs: logits of the last of the T positions [B,V] float32, then K,V per layer [B,K,S,H]
//
// It is NewStepExec at writeIdx 0 with zero caches made in the graph, so the host neither
// allocates nor uploads them (two per layer: 63 MB of zeros per Llama-3.1-8B-shaped prompt at
// S = 480, 98 MB for Phi-4's shape).
func (m *Model) NewPrefillExec() (*gmodel.Exec, error) {
	return gmodel.NewExec(m.Backend, m.Store, func(scope *gmodel.Scope, inputs []*Node) []*Node {
		g := inputs[0].Graph()
		B, S := inputs[2].Shape().Dimensions[0], inputs[2].Shape().Dimensions[1]
		cache := make([]*Node, 2*len(m.Layers))
		for i := range cache {
			cache[i] = Zeros(g, m.CacheShape(B, S))
		}
		in := &Inputs{IDs: inputs[0], Positions: inputs[1], KeyValid: inputs[2], WriteIdx: ScalarZero(g, dtypes.Int32), Cache: cache}
		return append([]*Node{m.lastLogits(in)}, in.Cache...)
	})
}

// NewStepExecHead is NewStepExec with the last position's logits [B,V] passed through head, which
// also receives nExtra more inputs (placed after writeIdx, before the caches); its outputs come
// first, then the updated caches. The sampler uses it to draw tokens on the device.
func (m *Model) NewStepExecHead(nExtra int, head func(logits *Node, extra []*Node) []*Node) (*gmodel.Exec, error) {
	return gmodel.NewExec(m.Backend, m.Store, func(scope *gmodel.Scope, inputs []*Node) []*Node {
		cache := append([]*Node(nil), inputs[4+nExtra:]...)
		in := &Inputs{IDs: inputs[0], Positions: inputs[1], KeyValid: inputs[2], WriteIdx: inputs[3], Cache: cache}
		return append(head(m.lastLogits(in), inputs[4:4+nExtra]), in.Cache...)
	})
}

// lastLogits runs Forward over in (updating in.Cache) and returns the logits of each row's last
// position, [B, V] float32.
func (m *Model) lastLogits(in *Inputs) *Node {
	hidden := m.Forward(in)
	T := hidden.Shape().Dimensions[1]
	return m.Logits(Squeeze(SliceAxis(hidden, 1, AxisRange(T-1, T)), 1)) // [B, D] → [B, V]
}
