package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// TestBenchShapesMatchPeer: every shape `grpo bench --shape` writes has the sizes the peer
// (bench/hf_grpo_step.py SHAPES, run by transformers + PEFT beside it) builds.
func TestBenchShapesMatchPeer(t *testing.T) {
	src, err := os.ReadFile("../../bench/hf_grpo_step.py")
	if err != nil {
		t.Fatal(err)
	}
	entry := regexp.MustCompile(`"([\w.\-]+)": dict\(([^)]*)\)`)
	kv := regexp.MustCompile(`(\w+)=("?[\w.\-]+"?)`)
	archOf := map[string]hf.Architecture{"qwen2": hf.Qwen2, "llama": hf.Llama, "phi3": hf.Phi3}
	found := 0
	for _, m := range entry.FindAllStringSubmatch(string(src), -1) {
		name, args := m[1], m[2]
		s, ok := benchShapes[name]
		if !ok {
			t.Errorf("peer shape %q has no --shape", name)
			continue
		}
		found++
		v := map[string]string{}
		for _, p := range kv.FindAllStringSubmatch(args, -1) {
			v[p[1]] = strings.Trim(p[2], `"`)
		}
		num := func(k string) float64 {
			f, err := strconv.ParseFloat(v[k], 64)
			if err != nil {
				t.Fatalf("%s: %s = %q", name, k, v[k])
			}
			return f
		}
		want := benchShape{Arch: archOf[v["model_type"]], Hidden: int(num("hidden_size")), Intermediate: int(num("intermediate_size")),
			Layers: int(num("num_hidden_layers")), Heads: int(num("num_attention_heads")), KVHeads: int(num("num_key_value_heads")),
			Vocab: int(num("vocab_size")), MaxPos: int(num("max_position_embeddings")), RopeTheta: num("rope_theta"),
			Tied: v["tie_word_embeddings"] == "True", RopeScaling: s.RopeScaling}
		if got, _ := json.Marshal(s); string(got) != string(must(json.Marshal(want))) {
			t.Errorf("%s: ours %s, the peer's %s", name, got, must(json.Marshal(want)))
		}
	}
	if found != len(benchShapes) {
		t.Errorf("%d of our %d shapes found in the peer's SHAPES", found, len(benchShapes))
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestBenchCheckpointLoads: a checkpoint written by writeBenchCheckpoint, for each architecture at
// a small size, loads with the model package (every tensor present with its shape, nothing left
// over: strict loading) and holds weights as transformers initializes them (std 0.02, norms 1).
func TestBenchCheckpointLoads(t *testing.T) {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []benchShape{
		{Arch: hf.Qwen2, Hidden: 64, Intermediate: 96, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 256, MaxPos: 512, RopeTheta: 1e6, Tied: true},
		{Arch: hf.Llama, Hidden: 64, Intermediate: 96, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 256, MaxPos: 512, RopeTheta: 5e5,
			RopeScaling: benchShapes["llama3.1-8b"].RopeScaling},
		{Arch: hf.Phi3, Hidden: 64, Intermediate: 96, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 256, MaxPos: 512, RopeTheta: 2.5e5},
	} {
		t.Run(string(s.Arch), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ck")
			if err := writeBenchCheckpoint(s, dir); err != nil {
				t.Fatal(err)
			}
			m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.Float32})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			c := m.Config
			if c.Architecture != s.Arch || c.HiddenSize != s.Hidden || c.NumLayers != s.Layers || c.NumKVHeads != s.KVHeads || c.VocabSize != s.Vocab {
				t.Fatalf("config read back as %+v", c)
			}
			emb := tensors.MustCopyFlatData[float32](m.Embed.MustValue())
			if sd := stddev(emb); math.Abs(sd-0.02) > 0.002 {
				t.Errorf("embedding standard deviation %.4f, want 0.02", sd)
			}
			for _, v := range tensors.MustCopyFlatData[float32](m.FinalNorm.MustValue()) {
				if v != 1 {
					t.Fatalf("final norm holds %v, want 1", v)
				}
			}
		})
	}
}

func stddev(x []float32) float64 {
	var s, s2 float64
	for _, v := range x {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	n := float64(len(x))
	return math.Sqrt(s2/n - (s/n)*(s/n))
}
