package tiny

import (
	"github.com/gomlxgrpo/gomlxgrpo/datasets"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
)

// Dataset is the GRPO training set of the main job: n generated problems the pretraining never saw,
// with the XML system prompt.
func Dataset(n int, seed uint64) grpo.Examples {
	var ex grpo.Examples
	for _, p := range datasets.Arithmetic(n, seed+7_000_001) {
		ex = append(ex, grpo.Example{Prompt: Messages(p.Question), Answer: p.Answer, Fields: map[string]string{"question": p.Question, "answer": p.Answer}})
	}
	return ex
}

// GRPOConfig is the main job's configuration: Unsloth's notebook preset, scaled to a 0.5M-parameter
// model on a CPU (a higher learning rate, short completions, fewer prompts per step).
func GRPOConfig() grpo.Config {
	c := grpo.UnslothPreset()
	c.PromptsPerStep, c.NumGenerations = 2, 8
	c.MaxPromptLength, c.MaxCompletionLength = 128, 40
	c.LearningRate, c.WarmupRatio, c.MaxSteps = 3e-3, 0.05, 120
	c.Beta = 0 // TRL's default; skips the reference pass (Unsloth's 0.001 would cost one more forward per step)
	c.LoggingSteps, c.SaveSteps, c.Seed = 1, 40, 3407
	c.MaxGradNorm = 1.0
	return c
}
