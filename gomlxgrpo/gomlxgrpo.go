// Package gomlxgrpo is the notebook-facing API: load a model, generate, score log-probabilities and
// (see the grpo package) train it with GRPO. Each function is a thin, documented facade over the
// packages below it, and the CLI (cmd/grpo) calls the same functions.
package gomlxgrpo

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/compute/dtypes"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

// Model is a loaded checkpoint with its tokenizer (when the folder has one) and a generator.
type Model struct {
	*model.Model
	Tokenizer *tokenizer.Tokenizer // nil when the folder has no tokenizer.json
	gen       *sample.Generator
}

// ModelOptions configures LoadModel.
type ModelOptions struct {
	// DType of weights and activations: "float32", "bfloat16", "float16", or "" for the backend's default
	// (float32 on the CPU, bfloat16 on GPUs). $GOMLXGRPO_DTYPE overrides "".
	DType string
	// Load4Bit quantizes the projections to NF4 while loading (QLoRA; bitsandbytes' load_in_4bit).
	Load4Bit bool
	// DoubleQuant also compresses NF4's block scales to 8 bits (bnb_4bit_use_double_quant).
	DoubleQuant bool
}

// LoadModel loads a Hugging Face model folder or hub id on the default backend.
func LoadModel(ref string, opts ModelOptions) (*Model, error) {
	if ref == "" {
		return nil, fmt.Errorf("no model given: pass a folder with config.json and *.safetensors, or a hub id")
	}
	dir, err := hf.Resolve(ref)
	if err != nil {
		return nil, err
	}
	be, err := backend.Default()
	if err != nil {
		return nil, err
	}
	name := opts.DType
	if name == "" {
		name = os.Getenv("GOMLXGRPO_DTYPE")
	}
	var dt dtypes.DType
	switch strings.ToLower(name) {
	case "":
	case "float32", "f32", "fp32":
		dt = dtypes.Float32
	case "bfloat16", "bf16":
		dt = dtypes.BFloat16
	case "float16", "f16", "fp16":
		dt = dtypes.Float16
	default:
		return nil, fmt.Errorf("unknown dtype %q (float32, bfloat16, float16)", name)
	}
	m, err := model.Load(dir, be, model.LoadOptions{DType: dt, Load4Bit: opts.Load4Bit, DoubleQuant: opts.DoubleQuant})
	if err != nil {
		return nil, err
	}
	out := &Model{Model: m}
	if _, err := os.Stat(dir + "/tokenizer.json"); err == nil {
		if out.Tokenizer, err = tokenizer.LoadDir(dir); err != nil {
			m.Close()
			return nil, err
		}
		if out.Tokenizer.VocabSize() > m.Config.VocabSize {
			m.Close()
			return nil, fmt.Errorf("tokenizer has %d tokens but the model's vocab_size is %d: tokenizer.json belongs to another model", out.Tokenizer.VocabSize(), m.Config.VocabSize)
		}
	}
	return out, nil
}

// LogProbs returns log p(ids[i+1] | ids[..i]) for i = 0..len(ids)-2 (float32 math).
func (m *Model) LogProbs(ids []int) ([]float32, error) {
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	out, err := m.NextTokenLogProbs([][]int{ids}, false)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

// Generate continues each prompt with up to maxNew tokens, stopping a row at an EOS token.
func (m *Model) Generate(prompts [][]int, maxNew int, p sample.Params, seed uint64) (*sample.Result, error) {
	for _, ids := range prompts {
		if err := m.checkIDs(ids); err != nil {
			return nil, err
		}
	}
	if m.gen == nil {
		g, err := sample.NewGenerator(m.Model)
		if err != nil {
			return nil, err
		}
		m.gen = g
	}
	return m.gen.Generate(&sample.Request{Prompts: prompts, MaxNewTokens: maxNew, Params: p, Seed: seed, StopTokens: m.StopTokens(), PadID: m.PadID()})
}

// StopTokens are the ids that end a completion (model.Model.StopTokens with the tokenizer's eos).
func (m *Model) StopTokens() []int { return m.Model.StopTokens(m.tokenizerID(true)) }

// PadID is the id written into padded positions (model.Model.PadID with the tokenizer's pad).
func (m *Model) PadID() int { return m.Model.PadID(m.tokenizerID(false)) }

func (m *Model) tokenizerID(eos bool) int {
	switch {
	case m.Tokenizer == nil:
		return -1
	case eos:
		return m.Tokenizer.EOSID()
	}
	return m.Tokenizer.PadID()
}

func (m *Model) checkIDs(ids []int) error {
	for i, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			return fmt.Errorf("token id %d at position %d is outside the vocabulary [0, %d)", id, i, m.Config.VocabSize)
		}
	}
	return nil
}

// Close frees the model's device memory and compiled graphs.
func (m *Model) Close() {
	if m.gen != nil {
		m.gen.Close()
	}
	m.Model.Close()
}
