package gomlxgrpo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlxgrpo/gomlxgrpo/datasets"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/lora"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tiny"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

// NotebookModelEnv, when set, replaces the model of every Session: "tiny" (the shipped model) or a
// folder/hub id. CI runs the big-model notebooks with GOMLXGRPO_NOTEBOOK_MODEL=tiny.
const NotebookModelEnv = "GOMLXGRPO_NOTEBOOK_MODEL"

// SessionOptions configure a GRPO session. Zero values take the defaults documented per field.
type SessionOptions struct {
	Model        string          // folder or hub id; "" or "tiny" is the shipped tiny model
	Load4Bit     bool            // NF4 base weights (QLoRA), as Unsloth's notebooks load them
	Output       string          // where state, checkpoints and metrics live ("" = grpo-output)
	LoRARank     int             // default 16 (alpha = rank, Unsloth's choice)
	LoRATargets  []string        // default: the 7 projections
	Config       *grpo.Config    // default: tiny.GRPOConfig for the tiny model, grpo.UnslothPreset otherwise
	Dataset      string          // "arithmetic" (default for tiny) or "gsm8k" (default otherwise)
	Examples     grpo.Examples   // instead of Dataset
	SystemPrompt string          // default: Unsloth's XML format prompt
	Rewards      []reward.Reward // default: Unsloth's five XML rewards
	Template     string          // a chat template to use instead of the tokenizer's
	Logf         func(string, ...any)
}

// Session is a model with adapters, a dataset, rewards and a trainer whose state lives on disk, so
// that each notebook cell (a separate program under gonb) continues where the previous one stopped.
type Session struct {
	Model    *Model
	Adapters *lora.Adapters
	Trainer  *grpo.Trainer
	Data     grpo.Examples
	Opts     SessionOptions
	IsTiny   bool
	draws    uint64
}

// Open loads the model, attaches LoRA, builds the dataset and trainer, and resumes the state found
// in Output, if any.
func Open(opts SessionOptions) (*Session, error) {
	ref := opts.Model
	if env := os.Getenv(NotebookModelEnv); env != "" {
		ref = env
	}
	isTiny := ref == "" || ref == "tiny"
	if isTiny {
		d, err := tiny.Dir()
		if err != nil {
			return nil, err
		}
		ref = d
	}
	if opts.Output == "" {
		opts.Output = "grpo-output"
	}
	if opts.LoRARank == 0 {
		opts.LoRARank = 16
	}
	if len(opts.LoRATargets) == 0 {
		opts.LoRATargets = lora.AllProjections
	}
	if opts.SystemPrompt == "" {
		opts.SystemPrompt = reward.XMLSystemPrompt
	}
	if len(opts.Rewards) == 0 {
		opts.Rewards = reward.UnslothXML()
	}
	cfg := grpo.UnslothPreset()
	if isTiny {
		cfg = tiny.GRPOConfig()
	}
	if opts.Config != nil {
		cfg = *opts.Config
		if isTiny && os.Getenv(NotebookModelEnv) != "" {
			// A big-model notebook run on the tiny model: keep its schedule, but shapes the tiny model can hold.
			cfg.MaxPromptLength, cfg.MaxCompletionLength = min(cfg.MaxPromptLength, 128), min(cfg.MaxCompletionLength, 40)
		}
	}
	m, err := LoadModel(ref, ModelOptions{Load4Bit: opts.Load4Bit})
	if err != nil {
		return nil, err
	}
	if m.Tokenizer == nil {
		m.Close()
		return nil, fmt.Errorf("%s has no tokenizer.json: GRPO needs text for the rewards", ref)
	}
	s := &Session{Model: m, Opts: opts, IsTiny: isTiny}
	if err := s.buildData(); err != nil {
		m.Close()
		return nil, err
	}
	ad, err := lora.Attach(m.Model, lora.Config{R: opts.LoRARank, Alpha: float64(opts.LoRARank), TargetModules: opts.LoRATargets, Seed: cfg.Seed})
	if err != nil {
		m.Close()
		return nil, err
	}
	s.Adapters = ad
	tr, err := grpo.New(cfg, m.Model, m.Tokenizer, ad, opts.Rewards, s.Data)
	if err != nil {
		m.Close()
		return nil, err
	}
	if opts.Template != "" {
		if tr.Template, err = tokenizer.CompileChatTemplate(opts.Template); err != nil {
			m.Close()
			return nil, err
		}
	}
	tr.OutputDir, tr.Logf = opts.Output, opts.Logf
	s.Trainer = tr
	if _, err := os.Stat(filepath.Join(opts.Output, "state")); err == nil {
		if err := tr.Resume(opts.Output); err != nil {
			m.Close()
			return nil, fmt.Errorf("resuming from %s: %w (delete the folder to start over)", opts.Output, err)
		}
	}
	return s, nil
}

func (s *Session) buildData() error {
	if len(s.Opts.Examples) > 0 {
		s.Data = s.Opts.Examples
		return nil
	}
	ds := s.Opts.Dataset
	if ds == "" {
		ds = map[bool]string{true: "arithmetic", false: "gsm8k"}[s.IsTiny]
	}
	var probs []datasets.Problem
	switch ds {
	case "arithmetic":
		probs = datasets.Arithmetic(5000, 7_000_001+3407)
	case "gsm8k":
		var err error
		if probs, err = datasets.GSM8K("train"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("dataset %q: want arithmetic or gsm8k", ds)
	}
	for _, p := range probs {
		s.Data = append(s.Data, grpo.Example{
			Prompt: []tokenizer.Message{{Role: "system", Content: s.Opts.SystemPrompt}, {Role: "user", Content: p.Question}},
			Answer: p.Answer, Fields: map[string]string{"question": p.Question, "answer": p.Answer},
		})
	}
	return nil
}

// Train runs `steps` more optimizer steps (capped at max_steps), calling onStep after each.
func (s *Session) Train(ctx context.Context, steps int, onStep func(*grpo.StepMetrics)) error {
	tr := s.Trainer
	target := min(tr.Step+steps, tr.Cfg.MaxSteps)
	if tr.Step >= tr.Cfg.MaxSteps {
		return fmt.Errorf("already at max_steps=%d: raise max_steps in the config to train further", tr.Cfg.MaxSteps)
	}
	tr.OnStep = onStep
	return tr.TrainUntil(ctx, target, tr.Cfg.MaxSteps) // the schedule keeps the full max_steps
}

// Complete samples one completion (temperature as configured, or greedy) for a question, with the
// session's system prompt and chat template.
func (s *Session) Complete(question string, greedy bool) (string, error) {
	msgs := []tokenizer.Message{{Role: "system", Content: s.Opts.SystemPrompt}, {Role: "user", Content: question}}
	var text string
	var err error
	if s.Trainer.Template != nil {
		text, err = s.Trainer.Template.Render(msgs, tokenizer.ChatOptions{AddGenerationPrompt: true})
	} else {
		text, err = s.Model.Tokenizer.ApplyChatTemplate(msgs, tokenizer.ChatOptions{AddGenerationPrompt: true})
	}
	if err != nil {
		return "", err
	}
	cfg := s.Trainer.Cfg
	p := cfg.SamplingParams()
	p.Greedy = greedy
	s.draws++ // a fresh sample per call, reproducible per (step, call)
	res, err := s.Model.Generate([][]int{s.Model.Tokenizer.Encode(text, false)}, cfg.MaxCompletionLength, p, uint64(s.Trainer.Step)<<20+s.draws)
	if err != nil {
		return "", err
	}
	return s.Model.Tokenizer.Decode(res.Tokens[0], true), nil
}

// SaveAdapter writes the LoRA adapter in PEFT's format; SaveMerged a merged bfloat16 checkpoint.
func (s *Session) SaveAdapter(dir string) error { return s.Adapters.Save(dir) }

// SaveMerged writes the base model with the adapter folded in (bfloat16, Hugging Face layout).
func (s *Session) SaveMerged(dir string) error { return s.Adapters.SaveMerged(dir, "BF16") }

// Close frees the model.
func (s *Session) Close() { s.Model.Close() }
