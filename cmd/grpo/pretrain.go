package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tiny"
)

func init() {
	register("pretrain-tiny", "make the shipped tiny model: supervised pretraining on generated arithmetic (see gomlxgrpo/tiny)", runPretrainTiny)
}

func runPretrainTiny(args []string) error {
	fs := flag.NewFlagSet("pretrain-tiny", flag.ExitOnError)
	def := tiny.DefaultPretrain()
	out := fs.String("out", "gomlxgrpo/tiny/model", "output folder (Hugging Face layout)")
	steps := fs.Int("steps", def.Steps, "optimizer steps")
	batch := fs.Int("batch", def.Batch, "sequences per step")
	lr := fs.Float64("lr", def.LR, "peak learning rate")
	noise := fs.Float64("noise", def.NoiseRate, "fraction of targets with wrong numbers (room for GRPO)")
	seed := fs.Uint64("seed", def.Seed, "seed")
	_ = fs.Parse(args)
	be, err := backend.Default()
	if err != nil {
		return err
	}
	cfg := tiny.PretrainConfig{Steps: *steps, Batch: *batch, LR: *lr, NoiseRate: *noise, Seed: *seed}
	logf := func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }
	if err := tiny.Pretrain(*out, be, cfg, logf); err != nil {
		return err
	}
	ev, err := tiny.Evaluate(*out, be, 200, 7)
	if err != nil {
		return err
	}
	return printJSON(ev)
}
