package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlxgrpo/gomlxgrpo/datasets"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/lora"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/report"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tiny"
)

func init() {
	register("train", "GRPO training (default: the shipped tiny model on arithmetic, on this machine's backend)", runTrain)
}

func runTrain(args []string) error {
	fs := flag.NewFlagSet("train", flag.ExitOnError)
	modelRef := fs.String("model", "", "model folder or hub id (default: the shipped tiny model)")
	configFile := fs.String("config", "", "JSON file with GRPO options (TRL names), applied over the defaults")
	dataset := fs.String("dataset", "", "arithmetic (default for the tiny model) or gsm8k (default otherwise)")
	maxSteps := fs.Int("max-steps", 0, "override max_steps")
	metrics := fs.String("metrics", "", "also copy metrics JSONL here (OUTPUT/metrics.jsonl is always written)")
	output := fs.String("output", "grpo-output", "output folder: state, checkpoints, metrics.jsonl, adapter, report.html")
	resume := fs.String("resume", "", "resume from this output folder (or a checkpoint-N folder)")
	loraR := fs.Int("lora-r", 16, "LoRA rank (alpha = rank, as Unsloth's notebooks)")
	_ = fs.Parse(args)

	isTiny := *modelRef == ""
	ref := *modelRef
	if isTiny {
		d, err := tiny.Dir()
		if err != nil {
			return err
		}
		ref = d
	}
	cfg := grpo.UnslothPreset()
	if isTiny {
		cfg = tiny.GRPOConfig()
	}
	if *configFile != "" {
		var err error
		if cfg, err = grpo.LoadConfig(*configFile, cfg); err != nil {
			return err
		}
	}
	if *maxSteps > 0 {
		cfg.MaxSteps = *maxSteps
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	m, err := gomlxgrpo.LoadModel(ref, gomlxgrpo.ModelOptions{})
	if err != nil {
		return err
	}
	defer m.Close()
	if m.Tokenizer == nil {
		return fmt.Errorf("%s has no tokenizer.json: GRPO needs text for the rewards", ref)
	}
	ds := *dataset
	if ds == "" {
		ds = map[bool]string{true: "arithmetic", false: "gsm8k"}[isTiny]
	}
	var data grpo.Examples
	switch ds {
	case "arithmetic":
		data = tiny.Dataset(5000, cfg.Seed)
	case "gsm8k":
		probs, err := datasets.GSM8K("train")
		if err != nil {
			return err
		}
		for _, p := range probs {
			data = append(data, grpo.Example{Prompt: tiny.Messages(p.Question), Answer: p.Answer, Fields: map[string]string{"question": p.Question, "answer": p.Answer}})
		}
	default:
		return fmt.Errorf("--dataset %q: want arithmetic or gsm8k", ds)
	}
	ad, err := lora.Attach(m.Model, lora.Config{R: *loraR, Alpha: float64(*loraR), TargetModules: lora.AllProjections, Seed: cfg.Seed})
	if err != nil {
		return err
	}
	tr, err := grpo.New(cfg, m.Model, m.Tokenizer, ad, reward.UnslothXML(), data)
	if err != nil {
		return err
	}
	tr.OutputDir = *output
	if *resume != "" {
		if err := tr.Resume(*resume); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "resumed at step %d\n", tr.Step)
	} else if _, err := os.Stat(filepath.Join(*output, "state")); err == nil {
		return fmt.Errorf("%s already holds a training run: pass --resume %s to continue it, or another --output", *output, *output)
	}
	fmt.Fprintf(os.Stderr, "model %s (%s, %s on %s), LoRA r=%d on %d projections (%d trainable parameters)\n",
		filepath.Base(ref), m.Config.Architecture, m.DType, m.Backend.Name(), *loraR, len(ad.List), ad.NumParameters())
	fmt.Fprintf(os.Stderr, "GRPO: %d steps × %d prompts × %d generations, loss %s, lr %g, beta %g\n",
		cfg.MaxSteps, cfg.PromptsPerStep, cfg.NumGenerations, cfg.LossType, cfg.LearningRate, cfg.Beta)

	var history []*grpo.StepMetrics
	rep := &report.Report{Title: "GRPO on " + filepath.Base(ref), Config: cfg}
	rep.Before = sampleCompletions(m, data, cfg)
	bar := newProgress(cfg.MaxSteps, tr.Step)
	tr.OnStep = func(sm *grpo.StepMetrics) {
		history = append(history, sm)
		bar.update(sm)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	trainErr := tr.Train(ctx)
	bar.done()
	if trainErr != nil {
		fmt.Fprintf(os.Stderr, "training stopped: %v\nthe state of the last finished step is in %s; continue with --resume %s\n", trainErr, *output, *output)
	}
	if err := ad.Save(filepath.Join(*output, "adapter")); err != nil {
		return err
	}
	rep.After = sampleCompletions(m, data, cfg)
	if metricsPath := filepath.Join(*output, "metrics.jsonl"); *metrics != "" {
		if b, err := os.ReadFile(metricsPath); err == nil {
			_ = os.WriteFile(*metrics, b, 0o644)
		}
	}
	rep.Metrics, err = report.ReadMetrics(filepath.Join(*output, "metrics.jsonl"))
	if err != nil {
		return err
	}
	if err := rep.WriteHTML(filepath.Join(*output, "report.html")); err != nil {
		return err
	}
	summary := report.Summarize(rep.Metrics, "rewards/correctness_reward_func/mean", 20)
	fmt.Fprintf(os.Stderr, "%s\nadapter: %s/adapter   report: %s/report.html\n", summary, *output, *output)
	return trainErr
}

// sampleCompletions generates one completion (temperature 1) for the first few training prompts.
func sampleCompletions(m *gomlxgrpo.Model, data grpo.Examples, cfg grpo.Config) []report.Sample {
	var out []report.Sample
	var prompts [][]int
	n := min(6, len(data))
	for _, ex := range data[:n] {
		text, err := m.Tokenizer.ApplyChatTemplate(ex.Prompt, tokenizerOpts())
		if err != nil {
			return nil
		}
		prompts = append(prompts, m.Tokenizer.Encode(text, false))
	}
	res, err := m.Generate(prompts, cfg.MaxCompletionLength, samplerParams(cfg), 12345)
	if err != nil {
		return nil
	}
	for i, ex := range data[:n] {
		text := m.Tokenizer.Decode(res.Tokens[i], true)
		s := reward.Sample{Completion: text, Answer: ex.Answer}
		scores, _ := reward.Score(reward.UnslothXML(), []reward.Sample{s})
		total := 0.0
		for _, v := range scores[0] {
			total += v
		}
		out = append(out, report.Sample{Question: ex.Fields["question"], Answer: ex.Answer, Completion: text, Reward: total})
	}
	return out
}

// progress draws a one-line bar on a terminal, or a line every few steps otherwise.
type progress struct {
	total, start int
	began        time.Time
	tty          bool
}

func newProgress(total, start int) *progress {
	fi, _ := os.Stderr.Stat()
	return &progress{total: total, start: start, began: time.Now(), tty: fi != nil && fi.Mode()&os.ModeCharDevice != 0}
}

func (p *progress) update(sm *grpo.StepMetrics) {
	done := sm.Step - p.start
	per := time.Since(p.began) / time.Duration(max(done, 1))
	eta := per * time.Duration(p.total-sm.Step)
	w := 30
	fill := w * sm.Step / p.total
	line := fmt.Sprintf("[%s%s] %d/%d  reward %.3f  correct %.2f  len %.0f  %.1fs/step  ETA %s",
		strings.Repeat("#", fill), strings.Repeat(".", w-fill), sm.Step, p.total, sm.Values["reward"],
		sm.Values["rewards/correctness_reward_func/mean"]/2, sm.Values["completions/mean_length"], per.Seconds(), eta.Round(time.Second))
	if p.tty {
		fmt.Fprintf(os.Stderr, "\r%s\x1b[K", line)
	} else if sm.Step%10 == 0 || sm.Step == p.total {
		fmt.Fprintln(os.Stderr, line)
	}
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprintln(os.Stderr)
	}
}
