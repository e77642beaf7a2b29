package grpo

import "math"

// LearningRateAt is the learning rate of optimizer step `step` (0-based), as transformers'
// get_scheduler computes it with warmup_steps = ceil(warmup_ratio · max_steps):
//
//	warmup:   lr · step / warmup_steps
//	linear:   lr · (T - step) / (T - warmup)
//	cosine:   lr · ½(1 + cos(π · (step - warmup)/(T - warmup)))
//	constant: lr
func (c *Config) LearningRateAt(step int) float64 {
	T := c.MaxSteps
	warm := int(math.Ceil(c.WarmupRatio * float64(T)))
	if step < warm {
		return c.LearningRate * float64(step) / float64(max(1, warm))
	}
	switch c.LRSchedulerType {
	case "constant", "constant_with_warmup":
		return c.LearningRate
	case "cosine":
		p := float64(step-warm) / float64(max(1, T-warm))
		return c.LearningRate * math.Max(0, 0.5*(1+math.Cos(math.Pi*p)))
	default: // linear
		return c.LearningRate * math.Max(0, float64(T-step)/float64(max(1, T-warm)))
	}
}
