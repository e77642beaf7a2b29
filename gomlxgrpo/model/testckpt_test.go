package model_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
)

// writeRandomCheckpoint writes a tiny random checkpoint of arch into a temp dir (f32, one file) and
// returns the dir. It is for tests of behaviour that needs no reference (cache vs no-cache, errors).
func writeRandomCheckpoint(t *testing.T, arch hf.Architecture, tied bool) string {
	t.Helper()
	dir := t.TempDir()
	D, F, N, K, H, V, L := 32, 48, 4, 2, 8, 64, 2
	cfg := map[string]any{
		"architectures": []string{string(arch)}, "vocab_size": V, "hidden_size": D, "intermediate_size": F,
		"num_hidden_layers": L, "num_attention_heads": N, "num_key_value_heads": K, "rms_norm_eps": 1e-6,
		"max_position_embeddings": 128, "rope_theta": 10000.0, "tie_word_embeddings": tied, "eos_token_id": 2,
	}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ts := map[string]hf.RawTensor{}
	add := func(name string, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := range n {
			v := float32(rng.NormFloat64() * 0.1)
			if len(shape) == 1 && filepath.Ext(name) == ".weight" {
				v += 1 // norms around 1
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		ts[name] = hf.RawTensor{DType: "F32", Shape: shape, Data: b}
	}
	layout := &hf.Config{Architecture: arch, VocabSize: V, HiddenSize: D, IntermediateSize: F, NumLayers: L,
		NumHeads: N, NumKVHeads: K, HeadDim: H, TieWordEmbeddings: tied}
	for _, spec := range hf.Layout(layout, "F32") {
		add(spec.Name, spec.Shape...)
	}
	if err := hf.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}
