package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
)

// benchShape is a model's architecture and sizes, for checkpoints with random weights: speed and
// memory depend on shapes, not values.
type benchShape struct {
	Arch                          hf.Architecture
	Hidden, Intermediate, Layers  int
	Heads, KVHeads, Vocab, MaxPos int
	RopeTheta                     float64
	Tied                          bool
	RopeScaling                   map[string]any // nil: none
}

// benchShapes are the real models' shapes, the same as the peer's (bench/hf_grpo_step.py SHAPES;
// TestBenchShapesMatchPeer compares them) plus Llama-3.1's RoPE scaling (bench/hf_foundation.py).
var benchShapes = map[string]benchShape{
	"qwen2.5-1.5b": {Arch: hf.Qwen2, Hidden: 1536, Intermediate: 8960, Layers: 28, Heads: 12, KVHeads: 2, Vocab: 151936, MaxPos: 32768, RopeTheta: 1e6, Tied: true},
	"llama3.2-3b":  {Arch: hf.Llama, Hidden: 3072, Intermediate: 8192, Layers: 28, Heads: 24, KVHeads: 8, Vocab: 128256, MaxPos: 131072, RopeTheta: 500000, Tied: true},
	"llama3.1-8b": {Arch: hf.Llama, Hidden: 4096, Intermediate: 14336, Layers: 32, Heads: 32, KVHeads: 8, Vocab: 128256, MaxPos: 131072, RopeTheta: 500000,
		RopeScaling: map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}},
	"phi-4": {Arch: hf.Phi3, Hidden: 5120, Intermediate: 17920, Layers: 40, Heads: 40, KVHeads: 10, Vocab: 100352, MaxPos: 16384, RopeTheta: 250000},
}

func shapeNames() string {
	var names []string
	for n := range benchShapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// lookupShape returns the shape called name, or an error listing the known ones.
func lookupShape(name string) (benchShape, error) {
	s, ok := benchShapes[name]
	if !ok {
		return s, fmt.Errorf("unknown --shape %q: one of %s", name, shapeNames())
	}
	return s, nil
}

// shapeModel returns the folder of the random checkpoint for shape name under $GOMLXGRPO_BENCH_DIR
// (default: the system's temporary folder), writing it first if it is not there.
func shapeModel(name string) (string, error) {
	s, err := lookupShape(name)
	if err != nil {
		return "", err
	}
	root := os.Getenv("GOMLXGRPO_BENCH_DIR")
	if root == "" {
		root = filepath.Join(os.TempDir(), "gomlxgrpo-bench")
	}
	dir := filepath.Join(root, name)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		return dir, nil
	}
	t0 := time.Now()
	if err := writeBenchCheckpoint(s, dir); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "wrote a random %s checkpoint to %s in %.1f s\n", name, dir, time.Since(t0).Seconds())
	return dir, nil
}

// writeBenchCheckpoint writes a Hugging Face folder for s: config.json and one model.safetensors of
// bfloat16 weights drawn as transformers initializes them (projections and embeddings uniform with
// standard deviation 0.02, transformers' initializer_range; norms 1, biases 0). The weights are
// written one tensor at a time, so an 8B or 14B checkpoint needs no more memory than its largest
// tensor; config.json is written last, so an interrupted write is not mistaken for a checkpoint.
func writeBenchCheckpoint(s benchShape, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	D, F, N, K, V := s.Hidden, s.Intermediate, s.Heads, s.KVHeads, s.Vocab
	specs := hf.Layout(&hf.Config{Architecture: s.Arch, VocabSize: V, HiddenSize: D, IntermediateSize: F, NumLayers: s.Layers,
		NumHeads: N, NumKVHeads: K, HeadDim: D / N, TieWordEmbeddings: s.Tied}, "BF16")
	seed := uint64(0)
	err := hf.WriteSafetensorsFunc(filepath.Join(dir, "model.safetensors"), specs, map[string]string{"format": "pt"}, func(name string, buf []byte) error {
		seed++
		switch {
		case strings.HasSuffix(name, "norm.weight"):
			fillBF16(buf, 1) // 1.0
		case strings.HasSuffix(name, ".bias"):
			fillBF16(buf, 0)
		default:
			fillUniformBF16(buf, 0.02*math.Sqrt(3), seed)
		}
		return nil
	})
	if err != nil {
		return err
	}
	cfg := map[string]any{
		"architectures": []string{string(s.Arch)}, "vocab_size": V, "hidden_size": D, "intermediate_size": F,
		"num_hidden_layers": s.Layers, "num_attention_heads": N, "num_key_value_heads": K, "rms_norm_eps": 1e-6,
		"max_position_embeddings": s.MaxPos, "rope_theta": s.RopeTheta, "tie_word_embeddings": s.Tied,
		"torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2,
	}
	if s.RopeScaling != nil {
		cfg["rope_scaling"] = s.RopeScaling
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
}

// fillBF16 sets every bfloat16 of buf to v.
func fillBF16(buf []byte, v float32) {
	bits := uint16(math.Float32bits(v) >> 16)
	for i := 0; i+1 < len(buf); i += 2 {
		binary.LittleEndian.PutUint16(buf[i:], bits)
	}
}

// fillUniformBF16 fills buf with bfloat16 values uniform in [−a, a), in parallel chunks seeded from
// seed (reproducible for a given GOMAXPROCS-independent chunking of 1 Mi values).
func fillUniformBF16(buf []byte, a float64, seed uint64) {
	const chunk = 1 << 21 // bytes: 1 Mi values
	n := (len(buf) + chunk - 1) / chunk
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for c := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			b := buf[c*chunk : min(len(buf), (c+1)*chunk)]
			for i := 0; i+1 < len(b); i += 2 {
				v := float32((2*rng.Float64() - 1) * a)
				binary.LittleEndian.PutUint16(b[i:], uint16(math.Float32bits(v)>>16))
			}
		}()
	}
	wg.Wait()
}

// benchMake writes the random checkpoint of a shape: grpo bench make --shape NAME [--out DIR].
func benchMake(args []string) error {
	fs := flag.NewFlagSet("bench make", flag.ExitOnError)
	shape := fs.String("shape", "", "one of "+shapeNames())
	out := fs.String("out", "", "folder to write (default: $GOMLXGRPO_BENCH_DIR/<shape>, or the temporary folder's gomlxgrpo-bench/<shape>)")
	_ = fs.Parse(args)
	if *out == "" {
		dir, err := shapeModel(*shape)
		if err != nil {
			return err
		}
		return printJSON(map[string]any{"kind": "make", "shape": *shape, "model": dir})
	}
	s, err := lookupShape(*shape)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := writeBenchCheckpoint(s, *out); err != nil {
		return err
	}
	return printJSON(map[string]any{"kind": "make", "shape": *shape, "model": *out, "seconds": round(time.Since(t0).Seconds(), 1)})
}

// modelFlags adds the benchmarks' --model and --shape flags; resolveModel turns them into a folder.
func modelFlags(fs *flag.FlagSet) (ref, shape *string) {
	ref = fs.String("model", "", "model folder (or --shape)")
	shape = fs.String("shape", "", "a random-weight checkpoint with a real model's shape, written on first use: "+shapeNames())
	return ref, shape
}

// resolveModel sets *ref to --shape's checkpoint folder (writing it if needed) when --shape is given.
func resolveModel(ref, shape *string) error {
	switch {
	case *shape != "" && *ref != "":
		return fmt.Errorf("give --model or --shape, not both")
	case *shape != "":
		dir, err := shapeModel(*shape)
		if err != nil {
			return err
		}
		*ref = dir
	case *ref == "":
		return fmt.Errorf("--model (a model folder) or --shape (%s) is required", shapeNames())
	}
	return nil
}
