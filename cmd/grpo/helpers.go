package main

import (
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

func tokenizerOpts() tokenizer.ChatOptions { return tokenizer.ChatOptions{AddGenerationPrompt: true} }

func samplerParams(cfg grpo.Config) sample.Params {
	return sample.Params{Temperature: cfg.Temperature, TopP: cfg.TopP, TopK: cfg.TopK, MinP: cfg.MinP}
}
