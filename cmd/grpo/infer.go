package main

import (
	"flag"
	"fmt"
	"math"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

func init() {
	register("logprobs", "per-token log-probabilities of --ids under --model, as JSON", runLogprobs)
	register("generate", "continue --ids or --prompt with --model, as JSON", runGenerate)
}

func runLogprobs(args []string) error {
	fs := flag.NewFlagSet("logprobs", flag.ExitOnError)
	modelRef := fs.String("model", "", "model folder or hub id")
	idsFlag := fs.String("ids", "", "comma-separated token ids (at least 2)")
	_ = fs.Parse(args)
	ids, err := parseIDs(*idsFlag)
	if err != nil {
		return err
	}
	if len(ids) < 2 {
		return fmt.Errorf("--ids needs at least 2 token ids, got %d", len(ids))
	}
	m, err := gomlxgrpo.LoadModel(*modelRef, gomlxgrpo.ModelOptions{})
	if err != nil {
		return err
	}
	defer m.Close()
	lp, err := m.LogProbs(ids)
	if err != nil {
		return err
	}
	return printJSON(map[string]any{"logprobs": lp})
}

func runGenerate(args []string) error {
	fs := flag.NewFlagSet("generate", flag.ExitOnError)
	modelRef := fs.String("model", "", "model folder or hub id")
	idsFlag := fs.String("ids", "", "prompt token ids, comma-separated")
	prompt := fs.String("prompt", "", "prompt text (needs tokenizer.json in the model folder)")
	maxNew := fs.Int("max-new-tokens", 32, "tokens to generate at most")
	greedy := fs.Bool("greedy", false, "argmax decoding")
	temp := fs.Float64("temperature", 1, "sampling temperature")
	topP := fs.Float64("top-p", 1, "nucleus sampling threshold (1 disables)")
	topK := fs.Int("top-k", 0, "keep the k most likely tokens (0 disables)")
	minP := fs.Float64("min-p", 0, "drop tokens below min-p × the top probability (0 disables)")
	seed := fs.Uint64("seed", 0, "random seed")
	_ = fs.Parse(args)
	if (*idsFlag == "") == (*prompt == "") {
		return fmt.Errorf("give exactly one of --ids or --prompt")
	}
	if *temp <= 0 || math.IsNaN(*temp) {
		return fmt.Errorf("--temperature must be positive (use --greedy for argmax)")
	}
	m, err := gomlxgrpo.LoadModel(*modelRef, gomlxgrpo.ModelOptions{})
	if err != nil {
		return err
	}
	defer m.Close()
	var ids []int
	if *idsFlag != "" {
		if ids, err = parseIDs(*idsFlag); err != nil {
			return err
		}
	} else {
		if m.Tokenizer == nil {
			return fmt.Errorf("--prompt needs a tokenizer.json in %s; pass --ids instead", m.Dir)
		}
		ids = m.Tokenizer.Encode(*prompt, true)
	}
	if len(ids) == 0 {
		return fmt.Errorf("empty prompt")
	}
	params := sample.Params{Greedy: *greedy, Temperature: *temp, TopP: *topP, TopK: *topK, MinP: *minP}
	out, err := m.Generate([][]int{ids}, *maxNew, params, *seed)
	if err != nil {
		return err
	}
	res := map[string]any{"ids": out.Tokens[0]}
	if m.Tokenizer != nil {
		res["text"] = m.Tokenizer.Decode(out.Tokens[0], false)
	}
	return printJSON(res)
}
