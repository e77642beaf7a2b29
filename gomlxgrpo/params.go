package gomlxgrpo

import (
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

func samplerParams(cfg grpo.Config) sample.Params {
	return sample.Params{Temperature: cfg.Temperature, TopP: cfg.TopP, TopK: cfg.TopK, MinP: cfg.MinP}
}
