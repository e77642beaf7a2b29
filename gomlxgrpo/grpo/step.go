package grpo

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

// bucket rounds n up to a multiple of k, so that graphs are compiled for few shapes.
func bucket(n, k int) int { return (n + k - 1) / k * k }

// promptIDs renders and tokenizes one example's prompt.
func (t *Trainer) promptIDs(ex Example) ([]int, string, error) {
	if ex.PromptIDs != nil {
		return ex.PromptIDs, "", nil
	}
	if t.Tokenizer == nil {
		return nil, "", fmt.Errorf("example has a chat prompt but the model has no tokenizer")
	}
	var text string
	var err error
	opts := tokenizer.ChatOptions{AddGenerationPrompt: true, BOSToken: t.Tokenizer.BOSToken, EOSToken: t.Tokenizer.EOSToken}
	if t.Template != nil {
		text, err = t.Template.Render(ex.Prompt, opts)
	} else {
		text, err = t.Tokenizer.ApplyChatTemplate(ex.Prompt, opts)
	}
	if err != nil {
		return nil, "", err
	}
	return t.Tokenizer.Encode(text, false), text, nil
}

// generate samples and scores one generation batch.
func (t *Trainer) generate() (*genBatch, error) {
	cfg := &t.Cfg
	G := cfg.NumGenerations
	idx := t.Cursor.Next(t.Data.Len(), cfg.PromptsPerStep, cfg.Seed)
	var prompts [][]int
	var examples []Example
	var questions []string
	truncated := 0
	for _, i := range idx {
		ex := t.Data.At(i)
		ids, _, err := t.promptIDs(ex)
		if err != nil {
			return nil, fmt.Errorf("example %d: %w", i, err)
		}
		if cfg.MaxPromptLength > 0 && len(ids) > cfg.MaxPromptLength {
			ids = ids[len(ids)-cfg.MaxPromptLength:] // left truncation, as Unsloth and TRL < 0.28 do
			truncated++
		}
		if len(ids)+cfg.MaxCompletionLength > t.Model.Config.MaxPositions {
			return nil, fmt.Errorf("example %d: prompt (%d tokens) + max_completion_length (%d) exceeds the model's %d positions: set max_prompt_length or lower max_completion_length", i, len(ids), cfg.MaxCompletionLength, t.Model.Config.MaxPositions)
		}
		q := ""
		for _, msg := range ex.Prompt {
			if msg.Role == "user" {
				q = msg.Content
			}
		}
		for range G {
			prompts = append(prompts, ids)
			examples = append(examples, ex)
			questions = append(questions, q)
		}
	}
	if truncated > 0 && !t.warnedTruncate {
		t.warnedTruncate = true
		t.logf("grpo: %d prompt(s) longer than max_prompt_length=%d were truncated on the left (warned once)", truncated, cfg.MaxPromptLength)
	}
	streams := make([]uint64, len(prompts))
	for i := range streams {
		streams[i] = uint64(t.Step)<<32 | uint64(i)
	}
	eos, padTok := t.tokenizerIDs()
	stops := t.Model.StopTokens(eos)
	pad := t.Model.PadID(padTok)
	if t.IgnoreEOS {
		stops = nil
	}
	res, err := t.gen.Generate(&sample.Request{Prompts: prompts, MaxNewTokens: cfg.MaxCompletionLength, Params: cfg.SamplingParams(),
		Seed: cfg.Seed, Streams: streams, StopTokens: stops, PadID: pad})
	if err != nil {
		return nil, fmt.Errorf("generation: %w", err)
	}
	samples := make([]reward.Sample, len(prompts))
	for i := range prompts {
		text := ""
		if t.Tokenizer != nil {
			text = t.Tokenizer.Decode(res.Tokens[i], true)
		}
		samples[i] = reward.Sample{Prompt: questions[i], Completion: text, CompletionIDs: res.Tokens[i], Answer: examples[i].Answer, Fields: examples[i].Fields}
	}
	scores, err := reward.Score(t.Rewards, samples)
	if err != nil {
		return nil, err
	}
	adv := ComputeAdvantages(scores, cfg.RewardWeights, G, cfg.ScaleRewards)
	b := t.assemble(prompts, res, adv, pad)
	b.Metrics = t.rewardMetrics(scores, adv, res)
	texts := make([]string, len(samples))
	for i := range samples {
		texts[i] = samples[i].Completion
	}
	b.Metrics["aha/self_check_rate"] = SelfCheckRate(texts)
	// Where generation_time goes: the prompts' prefill, the decode steps (CUDA decoder or GoMLX).
	b.Metrics["timing/prefill"], b.Metrics["timing/decode"] = res.Timing.PrefillS, res.Timing.DecodeS
	for i := 0; i < G && i < len(samples); i++ {
		c := Completion{Prompt: questions[i], Text: samples[i].Completion, Advantage: adv.Advantages[i], Rewards: map[string]float64{}}
		for k, r := range t.Rewards {
			c.Rewards[r.Name] = scores[i][k]
		}
		b.Samples = append(b.Samples, c)
	}
	return b, nil
}

// tokenizerIDs are the tokenizer's eos and pad ids (-1 when absent or without a tokenizer).
func (t *Trainer) tokenizerIDs() (eos, pad int) {
	if t.Tokenizer == nil {
		return -1, -1
	}
	return t.Tokenizer.EOSID(), t.Tokenizer.PadID()
}

// assemble lays the batch out as [prompt (left-padded to P) | completion (right-padded to C)].
func (t *Trainer) assemble(prompts [][]int, res *sample.Result, adv *Advantages, pad int) *genBatch {
	cfg := &t.Cfg
	N := len(prompts)
	P, C := 0, 1
	for i := range prompts {
		P = max(P, len(prompts[i]))
		C = max(C, len(res.Tokens[i]))
	}
	P, C = bucket(P, 16), min(bucket(C, 16), bucket(cfg.MaxCompletionLength, 16))
	L := P + C
	b := &genBatch{P: P, C: C}
	for i := range N {
		ids := make([]int32, L)
		posn := make([]int32, L)
		valid := make([]bool, L)
		tg := make([]int32, C)
		mk := make([]float32, C)
		off := P - len(prompts[i])
		for j := range P {
			ids[j] = int32(pad)
			if j >= off {
				ids[j] = int32(prompts[i][j-off])
				posn[j] = int32(j - off)
				valid[j] = true
			}
		}
		masked := cfg.MaskTruncatedCompletions && res.Truncated[i]
		for j := range C {
			ids[P+j] = int32(pad)
			tg[j] = int32(pad)
			posn[P+j] = int32(len(prompts[i]) + j)
			if j < len(res.Tokens[i]) {
				ids[P+j] = int32(res.Tokens[i][j])
				tg[j] = int32(res.Tokens[i][j])
				valid[P+j] = !masked // TRL zeroes truncated completions in the attention mask too
				if !masked {
					mk[j] = 1
					b.NumItems++
				}
			}
		}
		b.IDs, b.Posn, b.Valid = append(b.IDs, ids), append(b.Posn, posn), append(b.Valid, valid)
		b.Targets, b.Mask = append(b.Targets, tg), append(b.Mask, mk)
		b.Adv = append(b.Adv, float32(adv.Advantages[i]))
	}
	return b
}

// rewardMetrics are TRL's generation-side metrics.
func (t *Trainer) rewardMetrics(scores [][]float64, adv *Advantages, res *sample.Result) map[string]float64 {
	m := map[string]float64{}
	for k, r := range t.Rewards {
		col := make([]float64, len(scores))
		for i := range scores {
			col[i] = scores[i][k]
		}
		m["rewards/"+r.Name+"/mean"] = NanMean(col)
		m["rewards/"+r.Name+"/std"] = NanStd(col)
	}
	m["reward"] = NanMean(adv.Rewards)
	m["reward_std"] = NanStd(adv.Rewards)
	zero := 0.0
	for _, z := range adv.ZeroStd {
		if z {
			zero++
		}
	}
	m["frac_reward_zero_std"] = zero / float64(len(adv.ZeroStd))
	var lens, term []float64
	clipped := 0.0
	for i, toks := range res.Tokens {
		lens = append(lens, float64(len(toks)))
		if res.Truncated[i] {
			clipped++
		} else {
			term = append(term, float64(len(toks)))
		}
	}
	m["completions/mean_length"], m["completions/min_length"], m["completions/max_length"] = meanMinMax(lens)
	if len(term) == 0 {
		term = []float64{0}
	}
	m["completions/mean_terminated_length"], m["completions/min_terminated_length"], m["completions/max_terminated_length"] = meanMinMax(term)
	m["completions/clipped_ratio"] = clipped / float64(len(res.Tokens))
	return m
}

func meanMinMax(x []float64) (mean, lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range x {
		mean += v
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return mean / float64(len(x)), lo, hi
}

// rows returns rows [a, b) of a batch for one micro-batch.
func rows[T any](x [][]T, a, b int) [][]T { return x[a:b] }

// logps runs a log-prob executable over the batch, one micro-batch of N/gradient_accumulation_steps
// rows at a time as TRL does (its per_device_train_batch_size): the executable's attention scores,
// logit chunks and compile time scale with the micro-batch, not the generation batch, which is
// what lets long completions fit (a 4,096-token row's scores are 8× smaller alone than in a batch
// of 8). It compiles once for the micro-batch's shape, as the training step's executable does.
func (t *Trainer) logps(b *genBatch, ref bool) ([][]float32, error) {
	N := len(b.IDs)
	mb := N / t.Cfg.GradientAccumulationSteps
	layout, shared := t.layout(b, mb)
	e := t.logpExec[layout]
	if ref {
		e = t.refExec[layout]
	}
	res := make([][]float32, 0, N)
	for a := 0; a < N; a += mb {
		out, err := e.Call(append(b.inputs(a, mb, t.Cfg.NumGenerations, shared), rows(b.Targets, a, a+mb))...)
		if err != nil {
			return nil, err
		}
		flat := tensors.MustCopyFlatData[float32](out[0])
		for i := range mb {
			res = append(res, flat[i*b.C:(i+1)*b.C])
		}
	}
	return res, nil
}

// layout picks the input layout of batch b's passes in micro-batches of mb rows: the shared-prompt
// one (index 1, shared.go) when shared_prompt is on and the batch allows it, else the rows (0).
func (t *Trainer) layout(b *genBatch, mb int) (int, bool) {
	if t.Cfg.SharedPrompt && b.canShare(mb, t.Cfg.NumGenerations) {
		return 1, true
	}
	return 0, false
}

// StepOnce runs one optimizer step and returns its metrics. On error no variable has been changed.
func (t *Trainer) StepOnce() (*StepMetrics, error) {
	cfg := &t.Cfg
	start := time.Now()
	var err error
	fresh := t.buffer == nil || t.Step%cfg.NumIterations == 0
	cursorBefore := t.Cursor
	var genTime, lpTime time.Duration
	if fresh {
		t.buffer, err = t.generate()
		if err != nil {
			t.Cursor = cursorBefore
			return nil, err
		}
		genTime = time.Since(start)
		lp0 := time.Now()
		if cfg.Beta != 0 {
			if t.buffer.Ref, err = t.logps(t.buffer, true); err != nil {
				return nil, err
			}
		}
		if cfg.NumIterations > 1 {
			if t.buffer.Old, err = t.logps(t.buffer, false); err != nil {
				return nil, err
			}
		}
		lpTime = time.Since(lp0)
	}
	trainStart := time.Now()
	b := t.buffer
	N := len(b.IDs)
	mb := N / cfg.GradientAccumulationSteps
	zeros := make([][]float32, N)
	for i := range zeros {
		zeros[i] = make([]float32, b.C)
	}
	old, ref := b.Old, b.Ref
	if old == nil {
		old = zeros
	}
	if ref == nil {
		ref = zeros
	}
	sums := make([]float64, 7)
	var lowSeq, highSeq []float32
	layout, shared := t.layout(b, mb)
	for a := 0; a < N; a += mb {
		out, err := t.microExec[layout].Call(append(b.inputs(a, mb, cfg.NumGenerations, shared), rows(b.Targets, a, a+mb),
			rows(b.Mask, a, a+mb), b.Adv[a:a+mb], rows(old, a, a+mb), rows(ref, a, a+mb), b.NumItems)...)
		if err != nil {
			t.zeroAccumulators()
			return nil, fmt.Errorf("training step %d: %w", t.Step+1, err)
		}
		for k := range 7 {
			sums[k] += float64(tensors.ToScalar[float32](out[k]))
		}
		lowSeq = append(lowSeq, tensors.MustCopyFlatData[float32](out[7])...)
		highSeq = append(highSeq, tensors.MustCopyFlatData[float32](out[8])...)
	}
	if math.IsNaN(sums[0]) || math.IsInf(sums[0], 0) {
		t.zeroAccumulators()
		return nil, fmt.Errorf("step %d: loss is %v; the update was skipped (lower learning_rate, check the rewards)", t.Step+1, sums[0])
	}
	sched := *cfg
	if t.scheduleSteps > 0 {
		sched.MaxSteps = t.scheduleSteps
	}
	lr := sched.LearningRateAt(t.Step)
	optStart := time.Now() // the loss and gradient values above were read back: the backward pass is done
	out, err := t.applyExec.Call(float32(lr))
	if err != nil {
		return nil, fmt.Errorf("optimizer step %d: %w", t.Step+1, err)
	}
	gradNorm := float64(tensors.ToScalar[float32](out[0]))
	optTime := time.Since(optStart)
	t.Step++

	m := &StepMetrics{Step: t.Step, Values: map[string]float64{}, Samples: b.Samples}
	for k, v := range b.Metrics {
		m.Values[k] = v
	}
	if !fresh { // the buffer's generation ran in an earlier step, as generation_time says
		m.Values["timing/prefill"], m.Values["timing/decode"] = 0, 0
	}
	tok := math.Max(sums[5], 1)
	m.Values["loss"] = sums[0]
	if cfg.Beta != 0 {
		m.Values["kl"] = sums[1] / tok
	}
	m.Values["clip_ratio/low_mean"] = sums[2] / tok
	m.Values["clip_ratio/high_mean"] = sums[3] / tok
	m.Values["clip_ratio/region_mean"] = sums[4] / tok
	m.Values["clip_ratio/low_min"] = nanMin(lowSeq)
	m.Values["clip_ratio/high_max"] = nanMax(highSeq)
	m.Values["entropy"] = sums[6] / tok
	m.Values["grad_norm"] = gradNorm
	m.Values["learning_rate"] = lr
	end := time.Now() // one end for the step and its training phase, so the phases nest
	m.Values["step_time"] = end.Sub(start).Seconds()
	m.Values["generation_time"] = genTime.Seconds()
	m.Values["timing/logprobs"] = lpTime.Seconds()
	m.Values["timing/train"] = end.Sub(trainStart).Seconds()
	m.Values["timing/backward"] = optStart.Sub(trainStart).Seconds() // loss, backward, gradient accumulation
	m.Values["timing/optimizer"] = optTime.Seconds()                 // gradient clipping and AdamW
	m.Values["epoch"] = float64(t.Cursor.Epoch) + float64(t.Cursor.Index)/float64(t.Data.Len())
	if mem, ok := backend.Allocator(t.Model.Backend); ok { // on a GPU: what Unsloth prints as peak memory
		m.Values["memory/peak_allocated_gib"] = float64(mem.PeakInUse+mem.PeakKernels) / (1 << 30)
		m.Values["memory/peak_reserved_gib"] = float64(mem.PeakPool) / (1 << 30)
	}
	return m, nil
}

func (t *Trainer) zeroAccumulators() { t.opt.zero() }

func nanMin(x []float32) float64 {
	v := math.Inf(1)
	for _, f := range x {
		if !math.IsNaN(float64(f)) {
			v = math.Min(v, float64(f))
		}
	}
	if math.IsInf(v, 1) {
		return math.NaN()
	}
	return v
}

func nanMax(x []float32) float64 {
	v := math.Inf(-1)
	for _, f := range x {
		if !math.IsNaN(float64(f)) {
			v = math.Max(v, float64(f))
		}
	}
	if math.IsInf(v, -1) {
		return math.NaN()
	}
	return v
}

// MetricNames returns the keys of m sorted.
func (m *StepMetrics) MetricNames() []string {
	var k []string
	for n := range m.Values {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// SelfCheckPhrases are the phrases of the "aha moment" metric: a completion that checks itself.
var SelfCheckPhrases = []string{"wait", "let me check", "verify", "double-check", "double check", "let me re", "actually"}

// SelfCheckRate is the fraction of completions containing a self-checking phrase (case-insensitive).
func SelfCheckRate(completions []string) float64 {
	n := 0
	for _, c := range completions {
		lc := strings.ToLower(c)
		for _, p := range SelfCheckPhrases {
			if strings.Contains(lc, p) {
				n++
				break
			}
		}
	}
	return float64(n) / math.Max(1, float64(len(completions)))
}
