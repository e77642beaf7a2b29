package sample

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
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
	StepDecoder                     bool // the decode steps ran on the Generator's StepDecoder (CUDA kernels)
}

// Generator runs batched decoding with a KV cache on the GoMLX path (any backend). Graphs are
// compiled once per (batch, prompt width, cache length, sampling mode) and reused.
//
// Identical prompts are prefilled once: the GRPO trainer asks for G completions of each prompt,
// so the prompt's KV cache is computed for one row and copied to its G rows on the device.
// Tokens are drawn on the device (device.go): per step only B tokens and log-probs come back.
type Generator struct {
	// Decoder, when set, runs the decode steps after the first token (the CUDA kernels; see
	// NewDecoder). Prefill and the first token stay on the GoMLX path.
	Decoder StepDecoder

	m       *model.Model
	prefill *gmodel.Exec          // logits of the distinct prompts
	first   map[Mode]*graph.Exec  // copy caches to the rows, draw each row's first token
	decode  map[Mode]*gmodel.Exec // one token for every row
}

// ErrDecoderUnsupported, wrapped in an error from StepDecoder.Start, sends that generation to the
// GoMLX path instead.
var ErrDecoderUnsupported = errors.New("not supported by the step decoder")

// StepDecoder runs decode steps outside the GoMLX graph (gomlxgrpo/cuda, build tag cuda), reading
// and updating the KV caches in place.
type StepDecoder interface {
	// Start prepares B rows over the caches (K and V per layer, each [B,K,S,H]) with the rows'
	// random keys (RowKeys) and the sampling parameters.
	Start(caches []*tensors.Tensor, k1, k2 []uint32, p Params) error
	// Step feeds ids [B] at rotary positions pos [B]; valid [B][S] marks real cache entries and
	// writeIdx is the new position's cache index; step is the drawn token's index in the
	// completion. It returns each row's token and its log-prob.
	Step(ids, pos []int32, valid [][]bool, writeIdx, step int) ([]int32, []float32, error)
	// Close releases what Start allocated.
	Close()
}

// PromptSharer is a StepDecoder that can read the rows' copies of one prompt's cache entries from a
// single row (gomlxgrpo/cuda: the decode attention reads them once per prompt, not once per row).
// The Generator calls SharePrompts before Start with src[b], the first row holding row b's prompt,
// and the prompt width P: in the caches Start gets, positions below P hold the same bits in every
// row of a prompt (the prefill runs once per distinct prompt and its cache is copied to the rows).
type PromptSharer interface {
	SharePrompts(src []int32, prefix int)
}

// PromptGroup returns G when the rows of every prompt are G consecutive rows (src as SharePrompts
// gets it: src[b] = b − b mod G), else 0.
func PromptGroup(src []int32) int {
	G := len(src)
	for b := 1; b < len(src); b++ {
		if int(src[b]) == b {
			G = b
			break
		}
	}
	if G == 0 || len(src)%G != 0 {
		return 0
	}
	for b, s := range src {
		if int(s) != b-b%G {
			return 0
		}
	}
	return G
}

// NewDecoder, when not nil, is asked for a StepDecoder for every new Generator (a build with the
// cuda tag sets it); a model it does not support gets the GoMLX path. GOMLXGRPO_DECODER=xla
// turns it off.
var NewDecoder func(m *model.Model) (StepDecoder, error)

// NewGenerator prepares generation for m.
func NewGenerator(m *model.Model) (*Generator, error) {
	e, err := m.NewPrefillExec()
	if err != nil {
		return nil, err
	}
	g := &Generator{m: m, prefill: e, first: map[Mode]*graph.Exec{}, decode: map[Mode]*gmodel.Exec{}}
	if NewDecoder != nil && os.Getenv("GOMLXGRPO_DECODER") != "xla" {
		if d, err := NewDecoder(m); err == nil {
			g.Decoder = d
		}
	}
	return g, nil
}

// Close frees compiled graphs.
func (g *Generator) Close() {
	g.prefill.Finalize()
	for _, e := range g.first {
		e.Finalize()
	}
	for _, e := range g.decode {
		e.Finalize()
	}
}

// execs returns (compiling lazily) the first-token and decode executables of a sampling mode.
//
//	first:  rows [B] int32, prefill logits [U,V], sampler inputs, caches [U,K,S,H] → tokens [B], log-probs [B], caches [B,K,S,H]
//	decode: model.NewStepExecHead with the sampler as head → tokens [B], log-probs [B], caches
func (g *Generator) execs(mode Mode) (*graph.Exec, *gmodel.Exec, error) {
	if e, ok := g.decode[mode]; ok {
		return g.first[mode], e, nil
	}
	first, err := graph.NewExec(g.m.Backend, func(inputs []*graph.Node) []*graph.Node {
		rows := graph.ExpandAxes(inputs[0], -1) // [B,1]
		logits := graph.Gather(inputs[1], rows) // [B,V]
		tok, lp := SampleGraph(logits, SamplerFromInputs(inputs[2:2+NumSamplerInputs]), mode)
		out := []*graph.Node{tok, lp}
		for _, c := range inputs[2+NumSamplerInputs:] {
			out = append(out, graph.Gather(c, rows))
		}
		return out
	})
	if err != nil {
		return nil, nil, err
	}
	dec, err := g.m.NewStepExecHead(NumSamplerInputs, func(logits *graph.Node, extra []*graph.Node) []*graph.Node {
		tok, lp := SampleGraph(logits, SamplerFromInputs(extra), mode)
		return []*graph.Node{tok, lp}
	})
	if err != nil {
		first.Finalize()
		return nil, nil, err
	}
	g.first[mode], g.decode[mode] = first, dec
	return first, dec, nil
}

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
	if err := checkMemory(m, B, S); err != nil {
		return nil, err
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
	k1, k2 := make([]uint32, B), make([]uint32, B)
	for b := range B {
		stream := uint64(b)
		if req.Streams != nil {
			stream = req.Streams[b]
		}
		k1[b], k2[b] = RowKeys(req.Seed, stream)
	}
	mode := ModeOf(req.Params)
	first, decode, err := g.execs(mode)
	if err != nil {
		return nil, err
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
	// The rows' caches, from the first token's execution on; freed now, also on errors, rather than
	// when the collector gets to them.
	cache := make([]any, 2*len(m.Layers))
	defer func() {
		for _, c := range cache {
			if t, ok := c.(*tensors.Tensor); ok && t.Ok() {
				t.FinalizeAll()
			}
		}
	}()
	// The prompts' caches start as zeros on the device (model.NewPrefillExec).
	out, err := g.prefill.Call(pIDs, pPos, pValid)
	if err != nil {
		return nil, fmt.Errorf("prefill: %w", explainOOM(err, m, len(uniq), S))
	}
	rows := make([]int32, B)
	for b := range B {
		rows[b] = int32(rowOf[b])
	}
	pre := out
	args := append([]any{rows, pre[0]}, SamplerArgs(k1, k2, 0, req.Params)...)
	out, err = first.Call(append(args, toAny(pre[1:])...)...)
	for _, t := range pre {
		t.FinalizeAll()
	}
	if err != nil {
		return nil, fmt.Errorf("first token: %w", explainOOM(err, m, B, S))
	}
	copy(cache, toAny(out[2:]))
	res.Timing.PrefillS = time.Since(t0).Seconds()

	toks := tensors.MustCopyFlatData[int32](out[0])
	lps := tensors.MustCopyFlatData[float32](out[1])
	out[0].FinalizeAll()
	out[1].FinalizeAll()
	dec := g.Decoder
	if ps, ok := dec.(PromptSharer); ok {
		src := make([]int32, B)
		for b := range B {
			src[b] = int32(uniq[rowOf[b]])
		}
		ps.SharePrompts(src, P)
	}
	if dec != nil {
		if err := dec.Start(toTensors(cache), k1, k2, req.Params); errors.Is(err, ErrDecoderUnsupported) {
			dec = nil // e.g. a cache longer than the CUDA attention kernel holds: the GoMLX path decodes
		} else if err != nil {
			return nil, err
		} else {
			defer dec.Close()
		}
	}
	res.Timing.StepDecoder = dec != nil
	for step := 0; ; step++ {
		t2 := time.Now()
		if step > 0 && dec == nil {
			toks = tensors.MustCopyFlatData[int32](out[0]) // waits for the execution to finish
			lps = tensors.MustCopyFlatData[float32](out[1])
			out[0].FinalizeAll()
			out[1].FinalizeAll()
		}
		t3 := time.Now()
		if step > 0 {
			res.Timing.ReadS += t3.Sub(t2).Seconds()
		}
		allDone := true
		ids, posn := make([]int32, B), make([]int32, B) // the next step's input token and its position, per row
		for b := range B {
			tok := req.PadID
			if !done[b] {
				tok = int(toks[b])
				res.Tokens[b] = append(res.Tokens[b], tok)
				res.LogProbs[b] = append(res.LogProbs[b], float64(lps[b]))
				if stop[tok] {
					done[b] = true
				} else if len(res.Tokens[b]) == req.MaxNewTokens {
					done[b], res.Truncated[b] = true, true
				}
			}
			allDone = allDone && done[b]
			ids[b], posn[b] = int32(tok), int32(batch.Lens[b]+step)
		}
		res.Timing.PickS += time.Since(t3).Seconds()
		res.Timing.Steps++
		if allDone {
			break
		}
		for b := range B {
			valid[b][P+step] = true
		}
		if dec != nil {
			t0 := time.Now()
			if toks, lps, err = dec.Step(ids, posn, valid, P+step, step+1); err != nil {
				return nil, fmt.Errorf("generation step %d: %w", step+1, explainOOM(err, m, B, S))
			}
			res.Timing.DecodeS += time.Since(t0).Seconds()
			continue
		}
		args := append([]any{tensors.FromFlatDataAndDimensions(ids, B, 1), tensors.FromFlatDataAndDimensions(posn, B, 1), valid, int32(P + step)},
			SamplerArgs(k1, k2, step+1, req.Params)...)
		nArgs := len(args)
		args = append(args, cache...)
		// Donate the caches: the executable updates them in place instead of allocating a copy every token.
		for i, c := range cache {
			if d, err := graph.DonateTensorBuffer(c.(*tensors.Tensor), m.Backend, 0); err == nil {
				args[nArgs+i] = d
			}
		}
		t0 := time.Now()
		out, err = decode.Call(args...)
		if err != nil {
			return nil, fmt.Errorf("generation step %d: %w", step+1, explainOOM(err, m, B, S))
		}
		for i := range cache {
			if old := cache[i].(*tensors.Tensor); old.Ok() {
				old.FinalizeAll() // free now rather than when the garbage collector gets to it
			}
			cache[i] = out[2+i]
		}
		res.Timing.DecodeS += time.Since(t0).Seconds()
	}
	return res, nil
}

func roundUp(n, k int) int { return (n + k - 1) / k * k }

// CacheBytes is the device memory of the KV caches for B rows of S positions (all layers, K and V).
func CacheBytes(m *model.Model, B, S int) int64 {
	return int64(2*len(m.Layers)) * int64(m.CacheShape(B, S).Memory())
}

// deviceMemory is backend.DeviceMemory (a variable so tests can give a small card).
var deviceMemory = backend.DeviceMemory

// checkMemory refuses, before any device work, a generation that cannot fit the card: the model's
// weights plus the KV cache of B rows × S positions plus two B×V float32 logit buffers exceed the
// card's total memory. (What else the step needs is not counted, so passing is no promise.)
func checkMemory(m *model.Model, B, S int) error {
	total, ok := deviceMemory(m.Backend)
	if !ok {
		return nil
	}
	weights, cache := m.Store.ByteSize(), CacheBytes(m, B, S)
	need := weights + cache + 2*int64(B)*int64(m.Config.VocabSize)*4
	if need <= total {
		return nil
	}
	gib := func(n int64) float64 { return float64(n) / (1 << 30) }
	return fmt.Errorf("generating %d rows with %d cache positions needs at least %.2f GiB (weights %.2f, KV cache %.2f) but the GPU has %.2f GiB: "+
		"lower num_generations or the prompts per step, or max_completion_length / max_prompt_length (or load the model in 4-bit)",
		B, S, gib(need), gib(weights), gib(cache), gib(total))
}

// explainOOM turns a device out-of-memory error into one that says what to change.
func explainOOM(err error, m *model.Model, B, S int) error {
	msg := strings.ToLower(err.Error())
	if !strings.Contains(msg, "resource_exhausted") && !strings.Contains(msg, "out of memory") {
		return err
	}
	return fmt.Errorf("out of device memory generating %d rows with %d cache positions (their KV cache alone is %.2f GiB, on top of the model and the step's activations): "+
		"lower num_generations or the prompts per step, or max_completion_length / max_prompt_length: %w",
		B, S, float64(CacheBytes(m, B, S))/(1<<30), err)
}

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

func toTensors(xs []any) []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(xs))
	for i, x := range xs {
		out[i] = x.(*tensors.Tensor)
	}
	return out
}

func toAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}
