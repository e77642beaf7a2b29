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

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
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
	resume := fs.String("resume", "", "resume the run in this output folder")
	loraR := fs.Int("lora-r", 16, "LoRA rank (alpha = rank, as Unsloth's notebooks)")
	load4 := fs.Bool("load-in-4bit", false, "NF4 base weights (QLoRA)")
	_ = fs.Parse(args)

	out := *output
	if *resume != "" {
		out = *resume
	} else if _, err := os.Stat(filepath.Join(out, "state")); err == nil {
		return fmt.Errorf("%s already holds a training run: pass --resume %s to continue it, or another --output", out, out)
	}
	var cfg *grpo.Config
	if *configFile != "" || *maxSteps > 0 {
		c := grpo.UnslothPreset()
		if *modelRef == "" || *modelRef == "tiny" {
			c = tiny.GRPOConfig()
		}
		if *configFile != "" {
			var err error
			if c, err = grpo.LoadConfig(*configFile, c); err != nil {
				return err
			}
		}
		if *maxSteps > 0 {
			c.MaxSteps = *maxSteps
		}
		cfg = &c
	}
	s, err := gomlxgrpo.Open(gomlxgrpo.SessionOptions{Model: *modelRef, Output: out, LoRARank: *loraR, Config: cfg, Dataset: *dataset, Load4Bit: *load4})
	if err != nil {
		return err
	}
	defer s.Close()
	m, tr := s.Model, s.Trainer
	if tr.Step > 0 {
		fmt.Fprintf(os.Stderr, "resumed at step %d\n", tr.Step)
	}
	fmt.Fprintf(os.Stderr, "model %s (%s, %s on %s), LoRA r=%d on %d projections (%d trainable parameters)\n",
		filepath.Base(m.Dir), m.Config.Architecture, m.DType, m.Backend.Name(), *loraR, len(s.Adapters.List), s.Adapters.NumParameters())
	c := tr.Cfg
	fmt.Fprintf(os.Stderr, "GRPO: %d steps × %d prompts × %d generations, loss %s, lr %g, beta %g\n",
		c.MaxSteps, c.PromptsPerStep, c.NumGenerations, c.LossType, c.LearningRate, c.Beta)

	rep := &report.Report{Title: "GRPO on " + filepath.Base(m.Dir), Config: c}
	rep.Before = sampleCompletions(s)
	bar := newProgress(c.MaxSteps, tr.Step)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var trainErr error
	if tr.Step < c.MaxSteps {
		trainErr = s.Train(ctx, c.MaxSteps-tr.Step, bar.update)
	}
	bar.done()
	if trainErr != nil {
		fmt.Fprintf(os.Stderr, "training stopped: %v\nthe state of the last finished step is in %s; continue with --resume %s\n", trainErr, out, out)
	}
	if err := s.SaveAdapter(filepath.Join(out, "adapter")); err != nil {
		return err
	}
	rep.After = sampleCompletions(s)
	if *metrics != "" {
		if b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl")); err == nil {
			_ = os.WriteFile(*metrics, b, 0o644)
		}
	}
	if rep.Metrics, err = report.ReadMetrics(filepath.Join(out, "metrics.jsonl")); err != nil {
		return err
	}
	if err := rep.WriteHTML(filepath.Join(out, "report.html")); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s\n%s\nadapter: %s/adapter   report: %s/report.html\n",
		report.Summarize(rep.Metrics, "rewards/correctness_reward_func/mean", 20), report.Summarize(rep.Metrics, "reward", 20), out, out)
	return trainErr
}

// sampleCompletions samples one completion for each of the first few training prompts.
func sampleCompletions(s *gomlxgrpo.Session) []report.Sample {
	var out []report.Sample
	for _, ex := range s.Data[:min(6, len(s.Data))] {
		text, err := s.Complete(ex.Fields["question"], false)
		if err != nil {
			return nil
		}
		smp := reward.Sample{Completion: text, Answer: ex.Answer, Fields: ex.Fields}
		scores, err := reward.Score(s.Opts.Rewards, []reward.Sample{smp})
		if err != nil {
			return nil
		}
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
