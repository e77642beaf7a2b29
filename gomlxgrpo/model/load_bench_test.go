package model_test

import (
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// BenchmarkLoad4Bit loads a 2-layer checkpoint with the Llama-3.1-8B layer shape (bf16, 0.87 GB of
// projections; a 1,024-token vocabulary) quantizing to NF4 while loading: MB/s of checkpoint
// projections, the host side of `grpo bench grpo`'s load_s.
func BenchmarkLoad4Bit(b *testing.B) {
	dir := b.TempDir()
	D, F, N, K, H, V, L := 4096, 14336, 32, 8, 128, 1024, 2
	cfg := map[string]any{
		"architectures": []string{string(hf.Llama)}, "vocab_size": V, "hidden_size": D, "intermediate_size": F,
		"num_hidden_layers": L, "num_attention_heads": N, "num_key_value_heads": K, "rms_norm_eps": 1e-5,
		"max_position_embeddings": 4096, "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
	}
	data, _ := json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ts := map[string]hf.RawTensor{}
	var projBytes int
	add := func(name string, proj bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		buf := make([]byte, 2*n)
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(buf[2*i:], uint16(0x3c00+rng.IntN(0x200))) // bf16 in [0.0078, 0.031)
		}
		ts[name] = hf.RawTensor{DType: "BF16", Shape: shape, Data: buf}
		if proj {
			projBytes += 2 * n
		}
	}
	layout := &hf.Config{Architecture: hf.Llama, VocabSize: V, HiddenSize: D, IntermediateSize: F, NumLayers: L,
		NumHeads: N, NumKVHeads: K, HeadDim: H}
	for _, spec := range hf.Layout(layout, "BF16") {
		add(spec.Name, strings.Contains(spec.Name, "_proj."), spec.Shape...)
	}
	if err := hf.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		b.Fatal(err)
	}
	ts = nil
	be, err := backend.Default()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.BFloat16, Load4Bit: true})
		if err != nil {
			b.Fatal(err)
		}
		m.Close()
	}
	b.ReportMetric(float64(projBytes)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}
