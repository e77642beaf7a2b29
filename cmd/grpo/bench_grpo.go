package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/lora"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// benchGRPO times full GRPO steps (generation, reference log-probs, loss and backward, AdamW) on a
// checkpoint with random weights, as ../shared/bench/hf_grpo_step.py does for transformers + PEFT:
// one prompt of random tokens, G completions of exactly `completion` tokens, random rewards.
func benchGRPO(args []string) error {
	fs := flag.NewFlagSet("bench grpo", flag.ExitOnError)
	ref, shape := modelFlags(fs)
	steps := fs.Int("steps", 3, "steps; the last one is reported")
	G := fs.Int("g", 8, "num_generations")
	promptLen := fs.Int("prompt", 256, "prompt tokens")
	compLen := fs.Int("completion", 200, "completion tokens")
	rank := fs.Int("lora-r", 16, "LoRA rank on the 7 projections")
	load4 := fs.Bool("load-in-4bit", true, "NF4 base weights")
	dq := fs.Bool("double-quant", false, "also compress NF4's block scales to 8 bits (bnb_4bit_use_double_quant)")
	beta := fs.Float64("beta", 0.04, "KL coefficient (0 skips the reference pass)")
	ckpt := fs.Bool("gradient-checkpointing", true, "recompute decoder layers in the backward pass (TRL's gradient_checkpointing)")
	every := fs.Int("every", 0, "also print a progress line (step time, GPU and host memory) every N steps: memory flatness over long runs")
	ga := fs.Int("gradient-accumulation", 1, "gradient_accumulation_steps: the G rows go through log-probs and backward this many micro-batches at a time (long completions)")
	shared := fs.Bool("shared-prompt", true, "shared_prompt: the log-prob and training passes run the prompt once for its G completions (false: G copies, as TRL does)")
	thenRows := fs.Int("then-rows", 0, "after the steps, this many more with shared_prompt off (the first compiles), reported as a second line: the layouts compared in one process")
	attnMiB := fs.Int("attention-block-mib", 1024, "bound on one attention block's float32 scores: long sequences take their queries in chunks under it")
	cpuprofile := fs.String("cpuprofile", "", "write a Go CPU profile of the steps after the first (the host's share of a step) to this file")
	_ = fs.Parse(args)
	if err := resolveModel(ref, shape); err != nil {
		return err
	}
	if err := model.SetAttentionScoreLimit(*attnMiB << 20); err != nil {
		return fmt.Errorf("--attention-block-mib: %w", err)
	}
	t0 := time.Now()
	m, err := gomlxgrpo.LoadModel(*ref, gomlxgrpo.ModelOptions{Load4Bit: *load4, DoubleQuant: *dq})
	if err != nil {
		return err
	}
	defer m.Close()
	loadS := time.Since(t0).Seconds()
	ad, err := lora.Attach(m.Model, lora.Config{R: *rank, Alpha: float64(*rank)})
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]int, *promptLen)
	for i := range ids {
		ids[i] = rng.IntN(m.Config.VocabSize)
	}
	cfg := grpo.Defaults()
	cfg.NumGenerations, cfg.PromptsPerStep, cfg.MaxCompletionLength, cfg.MaxSteps = *G, 1, *compLen, *steps
	cfg.Beta, cfg.LearningRate, cfg.AdamBeta2, cfg.WeightDecay, cfg.LossType = *beta, 5e-6, 0.99, 0.1, "grpo"
	cfg.GradientCheckpointing, cfg.GradientAccumulationSteps, cfg.SharedPrompt = *ckpt, *ga, *shared
	random := reward.Reward{Name: "random", Fn: func(s []reward.Sample) []float64 {
		out := make([]float64, len(s))
		for i := range out {
			out[i] = rng.Float64()
		}
		return out
	}}
	tr, err := grpo.New(cfg, m.Model, nil, ad, []reward.Reward{random}, grpo.Examples{{PromptIDs: ids}})
	if err != nil {
		return err
	}
	tr.IgnoreEOS = true
	var last *grpo.StepMetrics
	peak := 0.0
	for i := range *steps {
		if i == 1 && *cpuprofile != "" { // the first step compiles
			stop, err := startCPUProfile(*cpuprofile)
			if err != nil {
				return err
			}
			defer stop()
		}
		if last, err = tr.StepOnce(); err != nil {
			return err
		}
		used := gpuUsedGiB()
		peak = max(peak, used)
		if *every > 0 && (i+1)%*every == 0 {
			var gpu any // null without nvidia-smi
			if used >= 0 {
				gpu = round(used, 2)
			}
			if err := printJSON(withAllocator(m.Backend, map[string]any{"kind": "grpo_progress", "step": i + 1, "step_s": round(last.Values["step_time"], 2),
				"gpu_used_gib": gpu, "host_rss_gib": round(rssGiB(), 2)})); err != nil {
				return err
			}
		}
	}
	report := func(last *grpo.StepMetrics) error {
		v := last.Values
		gen := v["generation_time"]
		return printJSON(withAllocator(m.Backend, map[string]any{
			"kind": "grpo_step", "impl": "gomlxgrpo", "model": *ref, "shape": *shape, "backend": m.Backend.Name(), "dtype": m.DType.String(), "nf4": *load4,
			"double_quant": *dq, "attention_block_mib": *attnMiB, "gradient_accumulation_steps": *ga, "shared_prompt": tr.Cfg.SharedPrompt, "params_bytes": m.Store.ByteSize(), "G": *G, "prompt": *promptLen, "completion": *compLen, "lora_rank": *rank, "beta": *beta, "load_s": round(loadS, 1),
			"step": last.Step, "gen_s": round(gen, 2), "prefill_s": round(v["timing/prefill"], 3), "decode_s": round(v["timing/decode"], 3), "logprobs_s": round(v["timing/logprobs"], 2), "train_s": round(v["timing/train"], 2),
			"backward_s": round(v["timing/backward"], 3), "optimizer_s": round(v["timing/optimizer"], 3),
			"step_s": round(v["step_time"], 2), "gen_tok_per_s": round(float64(*G**compLen)/gen, 0),
			"gpu_used_gib": round(peak, 2), "host_peak_rss_gib": round(peakRSSGiB(), 2),
		}))
	}
	if err := report(last); err != nil || *thenRows <= 0 {
		return err
	}
	// The same trainer with the prompt repeated per row: its executables compile in the first of
	// these steps. (The allocator's peak figures then cover both layouts.)
	tr.Cfg.SharedPrompt = false
	for range *thenRows {
		if last, err = tr.StepOnce(); err != nil {
			return err
		}
		peak = max(peak, gpuUsedGiB())
	}
	return report(last)
}

// benchGenerate times batched generation on the GoMLX path: B copies of a random prompt, exactly
// `new` tokens each (EOS ignored), greedy or sampled at temperature 1.
func benchGenerate(args []string) error {
	fs := flag.NewFlagSet("bench generate", flag.ExitOnError)
	ref, shape := modelFlags(fs)
	batch := fs.Int("batch", 8, "rows")
	promptLen := fs.Int("prompt", 256, "prompt tokens")
	newTok := fs.Int("new", 200, "new tokens per row")
	gens := fs.Int("num-generations", 8, "completions per prompt (TRL's num_generations): the batch is batch/num_generations distinct prompts, each on num_generations consecutive rows, as in a GRPO step")
	load4 := fs.Bool("load-in-4bit", false, "NF4 base weights")
	greedy := fs.Bool("greedy", false, "argmax instead of sampling")
	topP := fs.Float64("top-p", 1, "nucleus sampling (below 1 the sampler sorts the vocabulary)")
	cpuprofile := fs.String("cpuprofile", "", "write a Go CPU profile of the timed generation to this file")
	loraR := fs.Int("lora-r", 0, "attach LoRA adapters of this rank to the 7 projections (as in a GRPO step's generation); 0: none")
	ab := fs.String("ab", "", "NAME=VALUE[,NAME=VALUE…]: also time generations with these environment variables set, alternating with the plain ones in this process (A/B without a second model load; for settings read when a generation records its decode step, e.g. GOMLXGRPO_PDL=1)")
	repeat := fs.Int("repeat", 5, "with --ab: timed generations of each kind")
	_ = fs.Parse(args)
	var abEnv [][2]string
	if *ab != "" {
		for _, kv := range strings.Split(*ab, ",") {
			name, value, ok := strings.Cut(kv, "=")
			if !ok || name == "" {
				return fmt.Errorf("bench generate: --ab wants NAME=VALUE[,NAME=VALUE…], got %q", *ab)
			}
			abEnv = append(abEnv, [2]string{name, value})
		}
	}
	if err := resolveModel(ref, shape); err != nil {
		return err
	}
	m, err := gomlxgrpo.LoadModel(*ref, gomlxgrpo.ModelOptions{Load4Bit: *load4})
	if err != nil {
		return err
	}
	defer m.Close()
	if *loraR > 0 {
		if _, err := lora.Attach(m.Model, lora.Config{R: *loraR, Alpha: float64(*loraR)}); err != nil {
			return err
		}
	}
	if *gens < 1 || *batch%*gens != 0 {
		return fmt.Errorf("bench generate: --batch %d is not a multiple of --num-generations %d", *batch, *gens)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	prompts := make([][]int, *batch)
	for i := range prompts {
		if i%*gens == 0 {
			prompts[i] = make([]int, *promptLen)
			for j := range prompts[i] {
				prompts[i][j] = rng.IntN(m.Config.VocabSize)
			}
		} else {
			prompts[i] = prompts[i-1]
		}
	}
	gen, err := sample.NewGenerator(m.Model)
	if err != nil {
		return err
	}
	defer gen.Close()
	req := &sample.Request{Prompts: prompts, MaxNewTokens: *newTok, Params: sample.Params{Greedy: *greedy, Temperature: 1, TopP: *topP}}
	if _, err := gen.Generate(req); err != nil {
		return err // compiles the graphs of these shapes; the second run is timed
	}
	if *cpuprofile != "" { // stopped on return, also after an A/B (which had left it unwritten)
		stop, err := startCPUProfile(*cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if *ab != "" {
		return benchGenerateAB(gen, req, abEnv, *repeat, *loraR)
	}
	t0 := time.Now()
	res, err := gen.Generate(req)
	if err != nil {
		return err
	}
	dt := time.Since(t0).Seconds()
	tm := res.Timing
	decoder := "xla"
	if tm.StepDecoder {
		decoder = "cuda"
	}
	return printJSON(withAllocator(m.Backend, map[string]any{"kind": "generate", "impl": "gomlxgrpo", "model": *ref, "shape": *shape, "nf4": *load4, "greedy": *greedy, "top_p": *topP, "decoder": decoder, "lora_rank": *loraR,
		"batch": *batch, "num_generations": *gens, "prompt": *promptLen, "new": *newTok, "seconds": round(dt, 2), "tok_per_s": round(float64(*batch**newTok)/dt, 0),
		"ms_per_token_step": round(dt*1000/float64(*newTok), 2), "prefill_s": round(tm.PrefillS, 3), "decode_dispatch_s": round(tm.DecodeS, 3),
		"decode_wait_read_s": round(tm.ReadS, 3), "host_pick_s": round(tm.PickS, 3), "gpu_used_gib": round(gpuUsedGiB(), 2)}))
}

// startCPUProfile starts a Go CPU profile into path; stop ends it and closes the file.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchGenerateAB times req's generation repeat times with the environment as it is (A) and repeat
// times with name=value (B), alternating A, B, A, B… so that the card's drift falls on both, after
// one untimed generation of B (its own decode graph). Prints the milliseconds per decode step of
// every run and each side's median.
func benchGenerateAB(gen *sample.Generator, req *sample.Request, env [][2]string, repeat, loraR int) error {
	type saved struct {
		value string
		had   bool
	}
	old := make([]saved, len(env))
	var names []string
	for i, kv := range env {
		old[i].value, old[i].had = os.LookupEnv(kv[0])
		names = append(names, kv[0]+"="+kv[1])
	}
	restore := func() {
		for i, kv := range env {
			if old[i].had {
				os.Setenv(kv[0], old[i].value)
			} else {
				os.Unsetenv(kv[0])
			}
		}
	}
	defer restore()
	run := func(b bool) (float64, error) {
		if b {
			for _, kv := range env {
				os.Setenv(kv[0], kv[1])
			}
		} else {
			restore()
		}
		t0 := time.Now()
		if _, err := gen.Generate(req); err != nil {
			return 0, err
		}
		return time.Since(t0).Seconds() * 1000 / float64(req.MaxNewTokens), nil
	}
	bEnv := strings.Join(names, ",")
	if _, err := run(true); err != nil {
		return fmt.Errorf("bench generate with %s: %w", bEnv, err)
	}
	var a, b []float64
	for range max(repeat, 1) {
		for _, side := range []bool{false, true} {
			ms, err := run(side)
			if err != nil {
				return err
			}
			if side {
				b = append(b, round(ms, 3))
			} else {
				a = append(a, round(ms, 3))
			}
		}
	}
	median := func(v []float64) float64 {
		w := slices.Clone(v)
		slices.Sort(w)
		return w[len(w)/2]
	}
	rows := float64(len(req.Prompts))
	return printJSON(map[string]any{"kind": "generate_ab", "impl": "gomlxgrpo", "b_env": bEnv, "batch": len(req.Prompts), "lora_rank": loraR,
		"new": req.MaxNewTokens, "a_ms_per_step": a, "b_ms_per_step": b, "a_median_ms": median(a), "b_median_ms": median(b),
		"a_tok_per_s": round(rows*1000/median(a), 0), "b_tok_per_s": round(rows*1000/median(b), 0)})
}
