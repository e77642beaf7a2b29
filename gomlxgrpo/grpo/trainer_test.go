package grpo

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/lora"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
)

const toyModel = "../model/testdata/models/qwen2_gqa_tied_bias"

// lowBand rewards the fraction of completion tokens with id < 64 (1/8 of the vocabulary at random).
var lowBand = reward.Reward{Name: "low_band", Fn: reward.PerSample(func(s reward.Sample) float64 {
	if len(s.CompletionIDs) == 0 {
		return 0
	}
	n := 0
	for _, id := range s.CompletionIDs {
		if id < 64 {
			n++
		}
	}
	return float64(n) / float64(len(s.CompletionIDs))
})}

func toyData(n int) Examples {
	rng := rand.New(rand.NewPCG(5, 5))
	var ex Examples
	for range n {
		ids := make([]int, 4+rng.IntN(5))
		for j := range ids {
			ids[j] = 3 + rng.IntN(500)
		}
		ex = append(ex, Example{PromptIDs: ids})
	}
	return ex
}

func toyTrainer(t *testing.T, cfg Config) *Trainer {
	t.Helper()
	return toyTrainerOf(t, toyModel, cfg)
}

// toyTrainerOf is toyTrainer on another of the model package's tiny checkpoints.
func toyTrainerOf(t *testing.T, dir string, cfg Config) *Trainer {
	t.Helper()
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	ad, err := lora.Attach(m, lora.Config{R: 8, Alpha: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(cfg, m, nil, ad, []reward.Reward{lowBand}, toyData(64))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func toyConfig() Config {
	cfg := Defaults()
	cfg.NumGenerations, cfg.PromptsPerStep, cfg.MaxCompletionLength = 8, 4, 12
	cfg.LearningRate, cfg.WarmupRatio, cfg.LRSchedulerType = 2e-2, 0, "constant"
	cfg.LossType, cfg.MaxSteps, cfg.Seed, cfg.Beta = "dapo", 40, 7, 0.0
	return cfg
}

// TestRewardRisesOnToyTask: on a tiny random model, GRPO raises a simple reward clearly within 40 steps.
func TestRewardRisesOnToyTask(t *testing.T) {
	tr := toyTrainer(t, toyConfig())
	var rewards []float64
	for range tr.Cfg.MaxSteps {
		m, err := tr.StepOnce()
		if err != nil {
			t.Fatal(err)
		}
		rewards = append(rewards, m.Values["reward"])
		checkTimingSplit(t, m.Values)
		if m.Step == 1 {
			t.Logf("step 1 metrics: %v", m.Values)
		}
	}
	first, last := mean(rewards[:8]), mean(rewards[len(rewards)-8:])
	t.Logf("mean reward first 8 steps %.3f, last 8 steps %.3f", first, last)
	// A clear rise: the least-squares trend of reward over steps is positive with a t statistic
	// above 4 (a random walk without learning gives |t| < 4 with overwhelming probability).
	slope, tstat := trend(rewards)
	t.Logf("trend %.4f per step, t = %.1f", slope, tstat)
	if last <= first || tstat < 4 {
		t.Fatalf("reward did not rise clearly: first %.3f, last %.3f, trend t = %.1f (%v)", first, last, tstat, rewards)
	}
}

// checkTimingSplit: the step's phases (generation, log-probs, training = backward + optimizer) are
// measured, positive and nested within the step's time (as `grpo bench grpo` reports them).
func checkTimingSplit(t *testing.T, v map[string]float64) {
	t.Helper()
	gen, lp, train, bw, opt, step := v["generation_time"], v["timing/logprobs"], v["timing/train"], v["timing/backward"], v["timing/optimizer"], v["step_time"]
	if gen <= 0 || train <= 0 || bw <= 0 || opt <= 0 || lp < 0 || bw+opt > train || gen+lp+train > step {
		t.Fatalf("timing split: generation %g, log-probs %g, train %g (backward %g + optimizer %g), step %g", gen, lp, train, bw, opt, step)
	}
	if pre, dec := v["timing/prefill"], v["timing/decode"]; pre <= 0 || dec <= 0 || pre+dec > gen {
		t.Fatalf("generation split: prefill %g + decode %g, generation %g", pre, dec, gen)
	}
}

// trend fits y = a + b·i by least squares and returns b and its t statistic b / se(b).
func trend(y []float64) (slope, tstat float64) {
	n := float64(len(y))
	mx, my := (n-1)/2, mean(y)
	sxx, sxy := 0.0, 0.0
	for i, v := range y {
		sxx += (float64(i) - mx) * (float64(i) - mx)
		sxy += (float64(i) - mx) * (v - my)
	}
	slope = sxy / sxx
	sse := 0.0
	for i, v := range y {
		r := v - my - slope*(float64(i)-mx)
		sse += r * r
	}
	return slope, slope / math.Sqrt(sse/(n-2)/sxx)
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// TestConfigErrors: invalid options fail with messages that say what to change.
func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.NumGenerations = 1 }, "num_generations must be at least 2"},
		{func(c *Config) { c.PromptsPerStep, c.NumGenerations, c.GradientAccumulationSteps = 1, 6, 4 }, "divisible by gradient_accumulation_steps"},
		{func(c *Config) { c.LossType = "ppo" }, "loss_type"},
		{func(c *Config) { c.ScaleRewards = "max" }, "scale_rewards"},
		{func(c *Config) { c.Temperature = 0 }, "temperature"},
	} {
		cfg := Defaults()
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error mentioning %q", err, c.want)
		}
	}
}

// TestPanickingRewardKeepsState: a reward that panics is reported by name and sample, and the
// adapters are untouched, so training can resume after the fix.
func TestPanickingRewardKeepsState(t *testing.T) {
	tr := toyTrainer(t, toyConfig())
	before := tensors.MustCopyFlatData[float32](tr.Adapters.List[0].A.MustValue())
	tr.Rewards = []reward.Reward{{Name: "buggy", Fn: reward.PerSample(func(s reward.Sample) float64 {
		if len(s.CompletionIDs) > 0 {
			panic("boom")
		}
		return 0
	})}}
	_, err := tr.StepOnce()
	if err == nil || !strings.Contains(err.Error(), "buggy") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("got %v", err)
	}
	after := tensors.MustCopyFlatData[float32](tr.Adapters.List[0].A.MustValue())
	for i := range before {
		if before[i] != after[i] {
			t.Fatal("a failed step changed the adapters")
		}
	}
	if tr.Step != 0 || tr.Cursor.Index != 0 {
		t.Fatalf("a failed step advanced the trainer (step %d, cursor %+v)", tr.Step, tr.Cursor)
	}
}

// TestLogPsByMicroBatch: the log-prob passes taken one micro-batch at a time (TRL's
// per_device_train_batch_size rows) give each row the log-probs the whole-batch pass gives it.
func TestLogPsByMicroBatch(t *testing.T) {
	tr := toyTrainer(t, toyConfig())
	b, err := tr.generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []bool{false, true} {
		tr.Cfg.GradientAccumulationSteps = 1
		whole, err := tr.logps(b, ref)
		if err != nil {
			t.Fatal(err)
		}
		tr.Cfg.GradientAccumulationSteps = 4
		parts, err := tr.logps(b, ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != len(whole) {
			t.Fatalf("ref=%v: %d rows by micro-batch, %d whole", ref, len(parts), len(whole))
		}
		for i := range whole {
			for j := range whole[i] {
				if d := math.Abs(float64(parts[i][j] - whole[i][j])); d > 1e-5 || math.IsNaN(d) {
					t.Fatalf("ref=%v row %d position %d: %g by micro-batch, %g whole", ref, i, j, parts[i][j], whole[i][j])
				}
			}
		}
	}
}
