package sample

import (
	"fmt"
	"math/rand/v2"
	"time"

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
	Timing    Timing
}

// Timing splits a generation's wall time: the first (prefill) execution, the decode executions,
// reading the logits back to the host, and picking the tokens there.
type Timing struct {
	PrefillS, DecodeS, ReadS, PickS float64
	Steps                           int
}

// Generator runs batched decoding with a KV cache on the GoMLX path (any backend). Graphs are
// compiled once per (batch, prompt width, cache length) and reused.
//
// Identical prompts are prefilled once: the GRPO trainer asks for G completions of each prompt,
// so the prompt's KV cache is computed for one row and copied to its G rows on the device.
type Generator struct {
	m      *model.Model
	exec   *gmodel.Exec
	expand *graph.Exec
}

// NewGenerator prepares generation for m.
func NewGenerator(m *model.Model) (*Generator, error) {
	e, err := m.NewStepExec()
	if err != nil {
		return nil, err
	}
	// expand: rows [B] int32, then caches [U,S,K,H] → caches [B,S,K,H] with cache_b = cache_{rows[b]}.
	expand, err := graph.NewExec(m.Backend, func(inputs []*graph.Node) []*graph.Node {
		rows := graph.ExpandAxes(inputs[0], -1) // [B,1]
		out := make([]*graph.Node, len(inputs)-1)
		for i, c := range inputs[1:] {
			out[i] = graph.Gather(c, rows)
		}
		return out
	})
	if err != nil {
		e.Finalize()
		return nil, err
	}
	return &Generator{m: m, exec: e, expand: expand}, nil
}

// Close frees compiled graphs.
func (g *Generator) Close() { g.exec.Finalize(); g.expand.Finalize() }

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

	// Prefill the distinct prompts (uniq[u] is the first row holding prompt u, rowOf[b] its u).
	uniq, rowOf := distinctRows(batch.IDs)
	t0 := time.Now()
	pIDs, pPos, pValid := make([][]int32, len(uniq)), make([][]int32, len(uniq)), make([][]bool, len(uniq))
	for u, b := range uniq {
		pIDs[u], pPos[u], pValid[u] = batch.IDs[b], batch.Positions[b], valid[b]
	}
	cache := make([]any, 2*len(m.Layers))
	for i := range cache {
		cache[i] = tensors.FromShape(m.CacheShape(len(uniq), S))
	}
	out, err := g.exec.Call(append([]any{pIDs, pPos, pValid, int32(0)}, cache...)...)
	if err != nil {
		return nil, fmt.Errorf("prefill: %w", err)
	}
	copy(cache, toAny(out[1:]))
	if len(uniq) < B {
		rows := make([]int32, B)
		for b := range B {
			rows[b] = int32(rowOf[b])
		}
		expanded, err := g.expand.Call(append([]any{rows}, cache...)...)
		if err != nil {
			return nil, fmt.Errorf("sharing the prefilled cache: %w", err)
		}
		for i := range cache {
			cache[i].(*tensors.Tensor).FinalizeAll()
			cache[i] = expanded[i]
		}
	}
	pLogits := tensors.MustCopyFlatData[float32](out[0])
	out[0].FinalizeAll()
	res.Timing.PrefillS = time.Since(t0).Seconds()

	var ids, posn [][]int32
	writeIdx := int32(0) // set after each step: where the next token goes in the cache
	var logits []float32
	for step := 0; ; step++ {
		V := m.Config.VocabSize
		var t0, t1, t2 time.Time
		if step == 0 {
			// Row b starts from its prompt's prefill logits.
			logits = make([]float32, B*V)
			for b := range B {
				copy(logits[b*V:(b+1)*V], pLogits[rowOf[b]*V:(rowOf[b]+1)*V])
			}
			t2 = time.Now()
		} else {
			args := append([]any{ids, posn, valid, writeIdx}, cache...)
			// Donate the previous caches (already on the device): the executable may then update
			// them in place instead of allocating a fresh copy every token.
			for i, c := range cache {
				if d, err := graph.DonateTensorBuffer(c.(*tensors.Tensor), m.Backend, 0); err == nil {
					args[4+i] = d
				}
			}
			t0 = time.Now()
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
			t1 = time.Now()
			logits = tensors.MustCopyFlatData[float32](out[0]) // waits for the execution to finish
			out[0].FinalizeAll()
			t2 = time.Now()
			res.Timing.DecodeS += t1.Sub(t0).Seconds()
			res.Timing.ReadS += t2.Sub(t1).Seconds()
		}
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
		res.Timing.PickS += time.Since(t2).Seconds()
		res.Timing.Steps++
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

// distinctRows returns the first row of each distinct sequence and, for every row, the index of
// its sequence in that list.
func distinctRows(ids [][]int32) (uniq []int, rowOf []int) {
	seen := map[string]int{}
	rowOf = make([]int, len(ids))
	for b, row := range ids {
		key := fmt.Sprint(row)
		u, ok := seen[key]
		if !ok {
			u = len(uniq)
			seen[key] = u
			uniq = append(uniq, b)
		}
		rowOf[b] = u
	}
	return uniq, rowOf
}

func toAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}
