// Package grpo implements Group Relative Policy Optimization as TRL's GRPOTrainer computes it
// (trl/trainer/grpo_trainer.py, ../shared/docs/grpo-reference.md §5a), on a LoRA-adapted model.
package grpo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// Config holds the trainer's options, named and defaulted as TRL's GRPOConfig names them.
// Unsloth's notebook values are in UnslothPreset.
type Config struct {
	// Generation.
	NumGenerations            int     `json:"num_generations"`             // G completions per prompt (TRL 8)
	PromptsPerStep            int     `json:"prompts_per_step"`            // prompts per optimizer step (TRL: per_device_train_batch_size·GA/G)
	GradientAccumulationSteps int     `json:"gradient_accumulation_steps"` // micro-batches per optimizer step (TRL 1); the log-prob and training passes take N/GA rows at a time, so raise it for long completions (a 4,096-token Llama-3.1-8B step with 8 fits 12.3 GiB)
	MaxPromptLength           int     `json:"max_prompt_length"`           // left-truncates prompts; 0 = no limit (TRL removed it in 0.28; Unsloth keeps it)
	MaxCompletionLength       int     `json:"max_completion_length"`       // TRL 512
	Temperature               float64 `json:"temperature"`                 // TRL 1.0 (also divides the training logits, as TRL does)
	TopP                      float64 `json:"top_p"`                       // TRL 1.0
	TopK                      int     `json:"top_k"`                       // TRL 0 (disabled)
	MinP                      float64 `json:"min_p"`                       // TRL None (0 here)

	// Loss.
	Beta                     float64   `json:"beta"`                       // KL coefficient (TRL 0.0; Unsloth 0.001)
	Epsilon                  float64   `json:"epsilon"`                    // lower clip (TRL 0.2)
	EpsilonHigh              float64   `json:"epsilon_high"`               // upper clip; 0 means = epsilon (TRL None)
	LossType                 string    `json:"loss_type"`                  // grpo, bnpo, dr_grpo, dapo (TRL dapo; Unsloth bnpo)
	ScaleRewards             string    `json:"scale_rewards"`              // group, batch, none (TRL group)
	NumIterations            int       `json:"num_iterations"`             // μ updates per generation batch (TRL 1)
	ImportanceSamplingLevel  string    `json:"importance_sampling_level"`  // token or sequence (GSPO) (TRL token)
	MaskTruncatedCompletions bool      `json:"mask_truncated_completions"` // TRL false
	RewardWeights            []float64 `json:"reward_weights"`             // nil = all 1

	// Optimizer and schedule (TRL's TrainingArguments defaults as GRPOConfig sets them).
	LearningRate    float64 `json:"learning_rate"`     // TRL 1e-6
	AdamBeta1       float64 `json:"adam_beta1"`        // 0.9
	AdamBeta2       float64 `json:"adam_beta2"`        // 0.999
	AdamEpsilon     float64 `json:"adam_epsilon"`      // 1e-8
	WeightDecay     float64 `json:"weight_decay"`      // 0.0 (decoupled, as torch's AdamW)
	WarmupRatio     float64 `json:"warmup_ratio"`      // 0.0
	LRSchedulerType string  `json:"lr_scheduler_type"` // linear, cosine, constant (TRL linear)
	MaxGradNorm     float64 `json:"max_grad_norm"`     // 1.0; 0 disables clipping
	MaxSteps        int     `json:"max_steps"`
	Seed            uint64  `json:"seed"`
	LoggingSteps    int     `json:"logging_steps"` // metrics are computed every step; printed every logging_steps
	SaveSteps       int     `json:"save_steps"`    // numbered checkpoints; the resume state is saved every step

	// Memory.
	GradientCheckpointing bool `json:"gradient_checkpointing"` // recompute decoder layers in backward (TRL true)
	LogitsChunk           int  `json:"logits_chunk"`           // completion positions per [chunk, V] logits block (0: 128)

	// Speed (not a TRL option). SharedPrompt runs each prompt once, not once per completion, in the
	// log-prob and training passes (model.ForwardShared): the same keys and masks for every
	// completion token, so the same log-probs and gradients up to rounding, and about half the
	// matmul work of G = 8 completions of 200 tokens after a 256-token prompt. Micro-batches that
	// do not hold whole groups (gradient_accumulation_steps > prompts_per_step) run the rows
	// [prompt | completion] as TRL does. Default true.
	SharedPrompt bool `json:"shared_prompt"`
}

// Defaults are TRL's GRPOConfig defaults.
func Defaults() Config {
	return Config{
		NumGenerations: 8, PromptsPerStep: 1, GradientAccumulationSteps: 1, MaxCompletionLength: 512,
		Temperature: 1, TopP: 1, Beta: 0, Epsilon: 0.2, LossType: "dapo", ScaleRewards: "group", NumIterations: 1,
		ImportanceSamplingLevel: "token", LearningRate: 1e-6, AdamBeta1: 0.9, AdamBeta2: 0.999, AdamEpsilon: 1e-8,
		LRSchedulerType: "linear", MaxGradNorm: 1.0, MaxSteps: 500, Seed: 42, LoggingSteps: 10, SaveSteps: 500,
		GradientCheckpointing: true, SharedPrompt: true,
	}
}

// UnslothPreset is the configuration of Unsloth's Qwen2.5 (3B) GRPO notebook (grpo-reference.md §2c):
// lr 5e-6, betas (0.9, 0.99), weight decay 0.001 (decoupled), warmup 0.1, cosine, G=8, prompt 256 /
// completion 200, max_grad_norm 0.1, 250 steps, with Unsloth's overrides beta=0.001 and loss_type bnpo.
// (Unsloth's adamw_8bit is plain AdamW here.) Llama 3.1 (8B) and Phi-4 use G=6.
func UnslothPreset() Config {
	c := Defaults()
	c.LearningRate, c.AdamBeta1, c.AdamBeta2, c.WeightDecay = 5e-6, 0.9, 0.99, 0.001
	c.WarmupRatio, c.LRSchedulerType, c.MaxGradNorm = 0.1, "cosine", 0.1
	c.NumGenerations, c.MaxPromptLength, c.MaxCompletionLength, c.MaxSteps = 8, 256, 200, 250
	c.Beta, c.LossType, c.Seed, c.LoggingSteps, c.SaveSteps = 0.001, "bnpo", 3407, 1, 250
	return c
}

// LoadConfig reads a JSON config file over Defaults (unknown keys are an error).
func LoadConfig(path string, base Config) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return base, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&base); err != nil {
		return base, fmt.Errorf("%s: %w", path, err)
	}
	return base, base.Validate()
}

// EpsilonLow and EpsilonHi return the clip range [1-ε_low, 1+ε_high].
func (c *Config) EpsilonLow() float64 { return c.Epsilon }

// EpsilonHi is epsilon_high, defaulting to epsilon.
func (c *Config) EpsilonHi() float64 {
	if c.EpsilonHigh > 0 {
		return c.EpsilonHigh
	}
	return c.Epsilon
}

// Validate checks the options the way TRL does, with messages that say what to change.
func (c *Config) Validate() error {
	switch {
	case c.NumGenerations < 2:
		return fmt.Errorf("num_generations must be at least 2 (got %d): GRPO normalizes rewards within each group of completions", c.NumGenerations)
	case c.PromptsPerStep < 1:
		return fmt.Errorf("prompts_per_step must be at least 1 (got %d)", c.PromptsPerStep)
	case c.GradientAccumulationSteps < 1:
		return fmt.Errorf("gradient_accumulation_steps must be at least 1")
	case (c.PromptsPerStep*c.NumGenerations)%c.GradientAccumulationSteps != 0:
		return fmt.Errorf("the generation batch (prompts_per_step·num_generations = %d) must be divisible by gradient_accumulation_steps (%d)", c.PromptsPerStep*c.NumGenerations, c.GradientAccumulationSteps)
	case c.MaxCompletionLength < 1:
		return fmt.Errorf("max_completion_length must be positive")
	case c.Temperature <= 0:
		return fmt.Errorf("temperature must be positive (got %g)", c.Temperature)
	case c.NumIterations < 1:
		return fmt.Errorf("num_iterations must be at least 1")
	case c.Epsilon < 0 || c.EpsilonHigh < 0:
		return fmt.Errorf("epsilon and epsilon_high must be non-negative")
	case c.MaxSteps < 1:
		return fmt.Errorf("max_steps must be at least 1")
	}
	switch c.LossType {
	case "grpo", "bnpo", "dr_grpo", "dapo":
	default:
		return fmt.Errorf("loss_type %q is not one of grpo, bnpo, dr_grpo, dapo", c.LossType)
	}
	switch c.ScaleRewards {
	case "group", "batch", "none":
	default:
		return fmt.Errorf("scale_rewards %q is not one of group, batch, none", c.ScaleRewards)
	}
	switch c.ImportanceSamplingLevel {
	case "token", "sequence":
	default:
		return fmt.Errorf("importance_sampling_level %q is not token or sequence", c.ImportanceSamplingLevel)
	}
	switch c.LRSchedulerType {
	case "linear", "cosine", "constant", "constant_with_warmup":
	default:
		return fmt.Errorf("lr_scheduler_type %q is not linear, cosine or constant", c.LRSchedulerType)
	}
	return nil
}

// SamplingParams are the generation settings of the config.
func (c *Config) SamplingParams() sample.Params {
	return sample.Params{Temperature: c.Temperature, TopP: c.TopP, TopK: c.TopK, MinP: c.MinP}
}
