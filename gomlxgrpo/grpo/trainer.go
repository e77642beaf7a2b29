package grpo

import (
	"errors"
	"fmt"
	"os"

	. "github.com/gomlx/gomlx/core/graph"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/lora"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

// Trainer runs GRPO on a LoRA-adapted model. One Step is one optimizer step:
//
//  1. take prompts_per_step prompts, render and tokenize them (left-truncated to max_prompt_length);
//  2. sample num_generations completions of each (generation reuses the policy, adapters on);
//  3. score them with the reward functions; group-relative advantages (ComputeAdvantages);
//  4. reference log-probs (adapters off) when β ≠ 0, old log-probs when num_iterations > 1;
//  5. loss and gradients per micro-batch (gradient_accumulation_steps), accumulated;
//  6. global-norm clipping, AdamW with the scheduled learning rate;
//  7. metrics under TRL's names, a callback, and the resume state on disk.
type Trainer struct {
	Cfg       Config
	Model     *model.Model
	Tokenizer *tokenizer.Tokenizer    // nil when examples carry PromptIDs
	Template  *tokenizer.ChatTemplate // nil: the tokenizer's own chat template
	Adapters  *lora.Adapters
	Rewards   []reward.Reward
	Data      Dataset

	// OutputDir receives the resume state (every step), checkpoint-N folders (every save_steps) and
	// metrics.jsonl. Empty disables all writing.
	OutputDir string
	// OnStep is called after every step with its metrics (charts subscribe here).
	OnStep func(*StepMetrics)
	// Logf receives human-readable notes (warnings); nil means stderr.
	Logf func(format string, args ...any)
	// IgnoreEOS makes every completion max_completion_length long (benchmarks on random weights).
	IgnoreEOS bool

	Step   int    // optimizer steps done
	Cursor Cursor // position in the dataset

	gen *sample.Generator
	// The log-prob (adapters on, off) and training executables, in the rows layout ([0]) and the
	// shared-prompt layout ([1], shared.go).
	logpExec, refExec [2]*gmodel.Exec
	microExec         [2]*gmodel.Exec
	applyExec         *gmodel.Exec
	opt               *adamW // the gradient accumulator and AdamW's state, flat (adamw.go)
	trainable         []*gmodel.Variable
	buffer            *genBatch // generation batch reused across num_iterations
	warnedTruncate    bool
	scheduleSteps     int // when > 0, the schedule length (TrainUntil)
}

// StepMetrics are one step's metrics, keyed by TRL's names, plus samples for reports.
type StepMetrics struct {
	Step    int
	Values  map[string]float64
	Samples []Completion // the first group's completions
}

// Completion is one sampled completion with its rewards, for reports and notebooks.
type Completion struct {
	Prompt, Text string
	Rewards      map[string]float64
	Advantage    float64
}

// genBatch is one scored generation batch, shaped for the training graphs. With num_iterations > 1
// it is reused by several steps and saved with the training state.
type genBatch struct {
	IDs      [][]int32          `json:"ids"`  // [N, P+C]
	Posn     [][]int32          `json:"posn"` // [N, P+C]
	Valid    [][]bool           `json:"valid"`
	Targets  [][]int32          `json:"targets"` // [N, C]
	Mask     [][]float32        `json:"mask"`
	Adv      []float32          `json:"adv"`
	Old      [][]float32        `json:"old"`
	Ref      [][]float32        `json:"ref"`
	P        int                `json:"p"`
	C        int                `json:"c"`
	NumItems float32            `json:"num_items"`
	Metrics  map[string]float64 `json:"metrics"`
	Samples  []Completion       `json:"samples"`
}

// New prepares a trainer; call Step or Train.
func New(cfg Config, m *model.Model, tok *tokenizer.Tokenizer, ad *lora.Adapters, rewards []reward.Reward, data Dataset) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(rewards) == 0 {
		return nil, errors.New("no reward functions: GRPO needs at least one")
	}
	if len(cfg.RewardWeights) > 0 && len(cfg.RewardWeights) != len(rewards) {
		return nil, fmt.Errorf("reward_weights has %d entries for %d reward functions", len(cfg.RewardWeights), len(rewards))
	}
	if data == nil || data.Len() == 0 {
		return nil, errors.New("the dataset is empty")
	}
	if ad == nil || len(ad.List) == 0 {
		return nil, errors.New("GRPO trains LoRA adapters: attach some with lora.Attach first")
	}
	t := &Trainer{Cfg: cfg, Model: m, Tokenizer: tok, Adapters: ad, Rewards: rewards, Data: data}
	if err := t.build(); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Trainer) logf(format string, args ...any) {
	if t.Logf != nil {
		t.Logf(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// build creates the accumulators and the three executables (compiled lazily per shape).
func (t *Trainer) build() error {
	m := t.Model
	store := m.Store
	for v := range store.IterVariables() {
		if v.Trainable {
			t.trainable = append(t.trainable, v)
		}
	}
	var err error
	if t.opt, err = newAdamW(store, t.trainable); err != nil {
		return err
	}
	if t.gen, err = sample.NewGenerator(m); err != nil {
		return err
	}
	cfg := &t.Cfg
	for layout, shared := range []bool{false, true} {
		if err := t.buildPasses(layout, shared); err != nil {
			return err
		}
	}
	// Apply: global-norm clipping (torch's clip_grad_norm_), AdamW, accumulator zeroed (adamw.go).
	t.applyExec, err = gmodel.NewExec(m.Backend, store, func(scope *gmodel.Scope, lr *Node) *Node {
		return t.opt.apply(lr, cfg)
	})
	return err
}

// buildPasses creates the log-prob and training executables of one input layout (shared.go):
// model inputs first (modelInputs), then the pass's own.
func (t *Trainer) buildPasses(layout int, shared bool) error {
	m, store, cfg := t.Model, t.Model.Store, &t.Cfg
	k := modelInputs(shared)
	// Log-probs of completion tokens: the model inputs, targets [N, C]; a flag baked in per
	// executable (adapters on/off).
	logp := func(noAdapters bool) func(scope *gmodel.Scope, in []*Node) *Node {
		return func(scope *gmodel.Scope, in []*Node) *Node {
			targets := in[k]
			hc := completionHidden(m, in[:k], targets.Shape().Dimensions[1], shared, noAdapters, false)
			lp, _ := TokenLogPs(m, hc, targets, cfg.Temperature, cfg.LogitsChunk, noAdapters)
			return lp
		}
	}
	var err error
	if t.logpExec[layout], err = gmodel.NewExec(m.Backend, store, logp(false)); err != nil {
		return err
	}
	if t.refExec[layout], err = gmodel.NewExec(m.Backend, store, logp(true)); err != nil {
		return err
	}
	// Micro-batch: loss, gradients added into the accumulators, metric sums.
	t.microExec[layout], err = gmodel.NewExec(m.Backend, store, func(scope *gmodel.Scope, in []*Node) []*Node {
		targets, mask, adv, old, ref, items := in[k], in[k+1], in[k+2], in[k+3], in[k+4], in[k+5]
		t.Adapters.Training = true
		defer func() { t.Adapters.Training = false }()
		hc := completionHidden(m, in[:k], targets.Shape().Dimensions[1], shared, false, cfg.GradientCheckpointing)
		lp, ent := TokenLogPs(m, hc, targets, cfg.Temperature, cfg.LogitsChunk, false)
		li := &LossInputs{LogPs: lp, Mask: mask, Advantages: adv, NumItemsInBatch: items}
		if cfg.NumIterations > 1 {
			li.OldLogPs = old
		}
		if cfg.Beta != 0 {
			li.RefLogPs = ref
		}
		out := Loss(cfg, li)
		g := targets.Graph()
		nodes := make([]*Node, len(t.trainable))
		for i, v := range t.trainable {
			nodes[i] = v.NodeValue(g)
		}
		t.opt.accumulate(Gradient(out.Loss, nodes...))
		entSum := ReduceAllSum(Mul(ent, mask))
		return []*Node{out.Loss, out.KLSum, out.LowClipSum, out.HighClipSum, out.RegionClipSum, out.Tokens, entSum, out.LowClipSeq, out.HighClipSeq}
	})
	return err
}
