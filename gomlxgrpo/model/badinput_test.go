package model_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// copyDir copies a golden checkpoint so a test can damage it.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func editConfig(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, "config.json")
	var c map[string]any
	b, _ := os.ReadFile(p)
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	edit(c)
	b, _ = json.Marshal(c)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func loadErr(t *testing.T, dir string) error {
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.Float32})
	if err == nil {
		m.Close()
	}
	return err
}

// TestBadCheckpoints: each damage gives one clear error naming what is wrong and what was expected.
func TestBadCheckpoints(t *testing.T) {
	const sharded = "testdata/models/qwen2_mha_untied_f16_sharded"
	const single = "testdata/models/llama3_gqa_rope_scaled"
	cases := []struct {
		name   string
		src    string
		damage func(t *testing.T, dir string)
		want   []string
	}{
		{"no config.json", single, func(t *testing.T, d string) { os.Remove(filepath.Join(d, "config.json")) }, []string{"no config.json"}},
		{"unsupported architecture", single, func(t *testing.T, d string) {
			editConfig(t, d, func(c map[string]any) { c["architectures"] = []string{"GPT2LMHeadModel"} })
		}, []string{"GPT2LMHeadModel", "LlamaForCausalLM"}},
		{"missing shard", sharded, func(t *testing.T, d string) { os.Remove(filepath.Join(d, "model-00002-of-00003.safetensors")) },
			[]string{"model-00002-of-00003.safetensors", "missing"}},
		{"truncated safetensors", single, func(t *testing.T, d string) {
			p := filepath.Join(d, "model.safetensors")
			st, _ := os.Stat(p)
			os.Truncate(p, st.Size()-1000)
		}, []string{"truncated"}},
		{"wrong shape (config disagrees)", single, func(t *testing.T, d string) {
			editConfig(t, d, func(c map[string]any) { c["intermediate_size"] = 100 })
		}, []string{"mlp", "shape", "100"}},
		{"missing tensor", single, func(t *testing.T, d string) {
			editConfig(t, d, func(c map[string]any) { c["num_hidden_layers"] = 3 })
		}, []string{"layer 2", "lacks tensor"}},
		{"extra tensors", single, func(t *testing.T, d string) {
			editConfig(t, d, func(c map[string]any) { c["num_hidden_layers"] = 1 })
		}, []string{"does not use", "model.layers.1."}},
		{"tied config but lm_head is all there is", single, func(t *testing.T, d string) {
			editConfig(t, d, func(c map[string]any) { c["tie_word_embeddings"] = true })
		}, nil}, // transformers ignores a stored lm_head when tied; so do we
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, c.src)
			c.damage(t, dir)
			err := loadErr(t, dir)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("loaded a damaged checkpoint without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q should mention %q", err, w)
				}
			}
		})
	}
}

// TestConfigStyles: the hub's top-level rope keys and transformers 5's rope_parameters parse alike.
func TestConfigStyles(t *testing.T) {
	hub := `{"architectures":["LlamaForCausalLM"],"vocab_size":10,"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,
		"num_attention_heads":2,"num_key_value_heads":1,"rope_theta":500000.0,
		"rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}}`
	v5 := `{"architectures":["LlamaForCausalLM"],"vocab_size":10,"hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,
		"num_attention_heads":2,"num_key_value_heads":1,
		"rope_parameters":{"rope_theta":500000.0,"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192}}`
	a, err := hf.ParseConfig([]byte(hub))
	if err != nil {
		t.Fatal(err)
	}
	b, err := hf.ParseConfig([]byte(v5))
	if err != nil {
		t.Fatal(err)
	}
	if a.RoPE != b.RoPE || a.RoPE.Type != "llama3" || a.RoPE.Theta != 500000 {
		t.Fatalf("hub style %+v, transformers 5 style %+v", a.RoPE, b.RoPE)
	}
	if _, err := hf.ParseConfig([]byte(strings.Replace(hub, `"llama3"`, `"longrope"`, 1))); err == nil || !strings.Contains(err.Error(), "longrope") {
		t.Fatalf("unsupported rope_type should be named, got %v", err)
	}
}
