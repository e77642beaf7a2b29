package sample

import (
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// Request is one batched generation.
type Request struct {
	Prompts      [][]int // token ids of each prompt
	MaxNewTokens int
	Params       Params
	Seed         uint64
	// Streams gives each row its random stream id (e.g. step·2^32 + prompt·G + sample); nil means the row index.
	Streams    []uint64
	StopTokens []int // a row stops after emitting any of these (EOS)
	PadID      int
}

// Result of a generation: per row, the new tokens (stop token included), their sampling
// log-probabilities, and whether the row hit MaxNewTokens without a stop token.
type Result struct {
	Tokens    [][]int
	LogProbs  [][]float64
	Truncated []bool
}

// Generator runs batched decoding with a KV cache on the GoMLX path (any backend). Graphs are
// compiled once per (batch, prompt width, cache length) and reused.
type Generator struct {
	m    *model.Model
	exec *gmodel.Exec
}

// NewGenerator prepares generation for m.
func NewGenerator(m *model.Model) (*Generator, error) {
	e, err := m.NewStepExec()
	if err != nil {
		return nil, err
	}
	return &Generator{m: m, exec: e}, nil
}

// Close frees compiled graphs.
func (g *Generator) Close() { g.exec.Finalize() }

// Generate prefills every prompt (left-padded) and decodes until every row stopped or MaxNewTokens.
func (g *Generator) Generate(req *Request) (*Result, error) {
	m := g.m
	if req.MaxNewTokens <= 0 {
		return nil, fmt.Errorf("max new tokens must be positive, got %d", req.MaxNewTokens)
	}
	// Prompt width and cache length are rounded up to multiples of 32, so that batches of different
	// prompt lengths reuse the same compiled graphs (each new shape is a compilation).
	width := 0
	for _, p := range req.Prompts {
		width = max(width, len(p))
	}
	batch, err := model.LeftPad(req.Prompts, roundUp(width, 32), req.PadID)
	if err != nil {
		return nil, err
	}
	B, P := len(batch.IDs), len(batch.IDs[0])
	S := P + roundUp(req.MaxNewTokens, 32)
	if width+req.MaxNewTokens > m.Config.MaxPositions {
		return nil, fmt.Errorf("prompt (%d tokens) + %d new tokens exceeds the model's max_position_embeddings %d: shorten the prompt or lower max new tokens", width, req.MaxNewTokens, m.Config.MaxPositions)
	}
	valid := make([][]bool, B)
	for b := range B {
		valid[b] = make([]bool, S)
		copy(valid[b], batch.Valid[b])
	}
	cache := make([]any, 2*len(m.Layers))
	for i := range cache {
		cache[i] = tensors.FromShape(m.CacheShape(B, S))
	}
	stop := map[int]bool{}
	for _, t := range req.StopTokens {
		stop[t] = true
	}
	rngs := make([]*rand.Rand, B)
	for b := range B {
		stream := uint64(b)
		if req.Streams != nil {
			stream = req.Streams[b]
		}
		rngs[b] = RowRNG(req.Seed, stream)
	}
	res := &Result{Tokens: make([][]int, B), LogProbs: make([][]float64, B), Truncated: make([]bool, B)}
	done := make([]bool, B)

	ids, posn := batch.IDs, batch.Positions
	writeIdx := int32(0)
	for step := 0; ; step++ {
		args := append([]any{ids, posn, valid, writeIdx}, cache...)
		if step > 0 {
			// Donate the previous caches (already on the device): the executable may then update
			// them in place instead of allocating a fresh copy every token.
			for i, c := range cache {
				if d, err := graph.DonateTensorBuffer(c.(*tensors.Tensor), m.Backend, 0); err == nil {
					args[4+i] = d
				}
			}
		}
		out, err := g.exec.Call(args...)
		if err != nil {
			return nil, fmt.Errorf("generation step %d: %w", step, err)
		}
		for i := range cache {
			if old := cache[i].(*tensors.Tensor); old.Ok() {
				old.FinalizeAll() // free now rather than when the garbage collector gets to it
			}
			cache[i] = out[1+i]
		}
		logits := tensors.MustCopyFlatData[float32](out[0])
		out[0].FinalizeAll()
		V := m.Config.VocabSize
		next := make([][]int32, B)
		nextPos := make([][]int32, B)
		allDone := true
		for b := range B {
			tok := req.PadID
			if !done[b] {
				row := logits[b*V : (b+1)*V]
				var lp float64
				tok, lp = Pick(row, req.Params, rngs[b])
				res.Tokens[b] = append(res.Tokens[b], tok)
				res.LogProbs[b] = append(res.LogProbs[b], lp)
				if stop[tok] {
					done[b] = true
				} else if len(res.Tokens[b]) == req.MaxNewTokens {
					done[b], res.Truncated[b] = true, true
				}
			}
			allDone = allDone && done[b]
			next[b] = []int32{int32(tok)}
			nextPos[b] = []int32{int32(batch.Lens[b] + step)}
		}
		if allDone {
			break
		}
		writeIdx = int32(P + step)
		for b := range B {
			valid[b][P+step] = true
		}
		ids, posn = next, nextPos
	}
	for _, c := range cache {
		c.(*tensors.Tensor).FinalizeAll()
	}
	return res, nil
}

func roundUp(n, k int) int { return (n + k - 1) / k * k }
