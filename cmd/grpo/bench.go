package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/lora"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

func init() {
	register("bench", "benchmarks: make, load, forward, matmul, generate, grpo (--shape qwen2.5-1.5b|llama3.2-3b|llama3.1-8b|phi-4 or --model; see bench/RESULTS.md)", runBench)
}

func runBench(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("bench needs a subcommand: make, load, forward, matmul, generate, grpo")
	}
	switch args[0] {
	case "make":
		return benchMake(args[1:])
	case "load":
		return benchLoad(args[1:])
	case "forward":
		return benchForward(args[1:])
	case "matmul":
		return benchMatmul(args[1:])
	case "grpo":
		return benchGRPO(args[1:])
	case "generate":
		return benchGenerate(args[1:])
	}
	return fmt.Errorf("unknown bench %q (make, load, forward, matmul, generate, grpo)", args[0])
}

// benchLoad times LoadModel and reports host peak RSS and GPU memory of this process.
func benchLoad(args []string) error {
	fs := flag.NewFlagSet("bench load", flag.ExitOnError)
	ref, shape := modelFlags(fs)
	load4 := fs.Bool("load-in-4bit", false, "quantize the projections to NF4 while loading")
	dq := fs.Bool("double-quant", false, "with --load-in-4bit: 8-bit block scales")
	loraR := fs.Int("lora-r", 0, "attach LoRA adapters of this rank on the 7 projections (0: none)")
	_ = fs.Parse(args)
	if err := resolveModel(ref, shape); err != nil {
		return err
	}
	t0 := time.Now()
	m, err := gomlxgrpo.LoadModel(*ref, gomlxgrpo.ModelOptions{Load4Bit: *load4, DoubleQuant: *dq})
	if err != nil {
		return err
	}
	defer m.Close()
	loraParams := 0
	if *loraR > 0 {
		ad, err := lora.Attach(m.Model, lora.Config{R: *loraR, Alpha: float64(*loraR)})
		if err != nil {
			return err
		}
		for _, v := range ad.Variables() { // place the adapters on the device, as training does
			if err := v.MustValue().ToDevice(m.Backend, 0); err != nil {
				return err
			}
		}
		loraParams = ad.NumParameters()
	}
	return printJSON(withAllocator(m.Backend, map[string]any{
		"kind": "load", "model": *ref, "shape": *shape, "backend": m.Backend.Name(), "dtype": m.DType.String(), "nf4": *load4, "double_quant": *dq, "lora_params": loraParams,
		"load_s": round(time.Since(t0).Seconds(), 2), "host_peak_rss_gib": round(peakRSSGiB(), 2),
		"gpu_used_gib": round(gpuUsedGiB(), 2), "params_gib": round(float64(m.Store.ByteSize())/(1<<30), 2),
	}))
}

// benchForward times full forward passes (all positions' logits, reduced on device).
func benchForward(args []string) error {
	fs := flag.NewFlagSet("bench forward", flag.ExitOnError)
	ref, shape := modelFlags(fs)
	batch := fs.Int("batch", 8, "batch size")
	seq := fs.Int("seq", 512, "sequence length")
	iters := fs.Int("iters", 10, "timed iterations")
	_ = fs.Parse(args)
	if err := resolveModel(ref, shape); err != nil {
		return err
	}
	m, err := gomlxgrpo.LoadModel(*ref, gomlxgrpo.ModelOptions{})
	if err != nil {
		return err
	}
	defer m.Close()
	exec, err := gmodel.NewExec(m.Backend, m.Store, func(scope *gmodel.Scope, ids, posn, valid *Node) *Node {
		h := m.Forward(&model.Inputs{IDs: ids, Positions: posn, KeyValid: valid})
		logits := m.LMHead.Apply(h, true) // [B, T, V] in the model dtype, as transformers returns them
		return ConvertDType(ReduceAllMax(logits), dtypes.Float32)
	})
	if err != nil {
		return err
	}
	seqs := make([][]int, *batch)
	for b := range seqs {
		seqs[b] = make([]int, *seq)
		for t := range seqs[b] {
			seqs[b][t] = (b*7919 + t*104729) % m.Config.VocabSize
		}
	}
	in, err := model.LeftPad(seqs, 0, 0)
	if err != nil {
		return err
	}
	run := func() error {
		out, err := exec.Call(in.IDs, in.Positions, in.Valid)
		if err != nil {
			return err
		}
		_ = out[0].Value() // waits for the device
		return nil
	}
	for range 2 {
		if err := run(); err != nil {
			return err
		}
	}
	t0 := time.Now()
	for range *iters {
		if err := run(); err != nil {
			return err
		}
	}
	dt := time.Since(t0).Seconds() / float64(*iters)
	return printJSON(map[string]any{
		"kind": "forward", "model": *ref, "shape": *shape, "backend": m.Backend.Name(), "dtype": m.DType.String(), "batch": *batch, "seq": *seq,
		"seconds": round(dt, 4), "tok_per_s": round(float64(*batch**seq)/dt, 0), "gpu_used_gib": round(gpuUsedGiB(), 2),
	})
}

func round(x float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

// peakRSSGiB reads VmHWM (peak resident set) from /proc/self/status.
func peakRSSGiB() float64 { return procStatusGiB("VmHWM:") }

// rssGiB is the process's resident memory now (VmRSS).
func rssGiB() float64 { return procStatusGiB("VmRSS:") }

// procStatusGiB reads a kB field of /proc/self/status in GiB (-1 where there is none).
func procStatusGiB(field string) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), field) {
			fields := strings.Fields(sc.Text())
			kb, _ := strconv.ParseFloat(fields[1], 64)
			return kb / (1 << 20)
		}
	}
	return -1
}

// withAllocator adds to a benchmark's JSON the allocators' own figures where the backend has them
// (XLA on a GPU), in GiB: peak_allocated_gib = XLA's peak bytes in use + the CUDA
// kernels' own peak (an upper bound on what was live at once), the analog of PyTorch's
// max_memory_allocated that transformers + PEFT report; xla_peak_pool_gib is what XLA's allocator
// held at most (PyTorch's max_memory_reserved). gpu_used_gib (nvidia-smi) also counts the CUDA
// context and the pool.
func withAllocator(be compute.Backend, out map[string]any) map[string]any {
	s, ok := backend.Allocator(be)
	if !ok {
		return out
	}
	gib := func(b int64) any {
		if b < 0 {
			return nil
		}
		return round(float64(b)/(1<<30), 2)
	}
	out["peak_allocated_gib"] = gib(s.PeakInUse + s.PeakKernels)
	out["xla_peak_in_use_gib"], out["xla_in_use_gib"], out["xla_peak_pool_gib"] = gib(s.PeakInUse), gib(s.InUse), gib(s.PeakPool)
	out["kernels_peak_gib"] = gib(s.PeakKernels)
	return out
}

// gpuUsedGiB asks nvidia-smi for this process's GPU memory (-1 when unavailable).
func gpuUsedGiB() float64 {
	out, err := exec.Command("nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return -1
	}
	pid := strconv.Itoa(os.Getpid())
	total := -1.0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, ",")
		if len(f) == 2 && strings.TrimSpace(f[0]) == pid {
			mib, _ := strconv.ParseFloat(strings.TrimSpace(f[1]), 64)
			total = mib / 1024
		}
	}
	if total < 0 { // pid namespaces can hide the pid: report the card's total use instead
		out, err := exec.Command("nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits").Output()
		if err == nil {
			mib, _ := strconv.ParseFloat(strings.TrimSpace(strings.Split(string(out), "\n")[0]), 64)
			total = mib / 1024
		}
	}
	return total
}

// benchMatmul times an n×n×n bfloat16 matrix product (float32 accumulation, as GoMLX emits it) on
// the default backend: TFLOP/s = 2n³ / seconds. Inputs are random (never zeros).
func benchMatmul(args []string) error {
	fs := flag.NewFlagSet("bench matmul", flag.ExitOnError)
	n := fs.Int("n", 8192, "matrix size")
	iters := fs.Int("iters", 20, "timed products")
	_ = fs.Parse(args)
	be, err := backend.Default()
	if err != nil {
		return err
	}
	gen := MustNewExec(be, func(g *Graph) (*Node, *Node) {
		st := RNGStateFromSeedForGraph(g, 1)
		st, a := RandomNormal(st, shapes.Make(dtypes.Float32, *n, *n))
		_, b := RandomNormal(st, shapes.Make(dtypes.Float32, *n, *n))
		return ConvertDType(a, dtypes.BFloat16), ConvertDType(b, dtypes.BFloat16)
	})
	ab := gen.MustCall()
	// Chain `iters` products in one executable so that host round trips do not count.
	chain := MustNewExec(be, func(a, b *Node) *Node {
		x := a
		for range *iters {
			x = MulScalar(MatMul(x, b), 1.0/float64(*n))
		}
		return ReduceAllSum(ConvertDType(x, dtypes.Float32))
	})
	run := func() { _ = chain.MustCall(ab[0], ab[1])[0].Value() }
	run()
	t0 := time.Now()
	run()
	dt := time.Since(t0).Seconds() / float64(*iters)
	return printJSON(map[string]any{"kind": "matmul", "backend": be.Name(), "config": os.Getenv("GOMLX_BACKEND"), "n": *n,
		"ms": round(dt*1000, 3), "tflops": round(2*float64(*n)*float64(*n)*float64(*n)/dt/1e12, 1)})
}
