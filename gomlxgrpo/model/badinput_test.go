package model_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/quant"
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

// TestLoad4Bit: NF4 while loading keeps log-probs close to the 16/32-bit model, and the
// projections hold no dense weight.
func TestLoad4Bit(t *testing.T) {
	dir := "testdata/models/llama3_gqa_rope_scaled"
	be, _ := backend.Default()
	full := loadF32(t, dir)
	m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.Float32, Load4Bit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, l := range m.Linears() {
		if l.Weight != nil || l.NF4Packed == nil {
			t.Fatalf("%s is not NF4", l.Name)
		}
	}
	if m.LMHead.NF4Packed != nil {
		t.Fatal("lm_head must stay 16-bit, as bitsandbytes keeps it")
	}
	seq := [][]int{{5, 17, 42, 7, 99, 3, 250, 11, 64, 128}}
	a, _ := full.NextTokenLogProbs(seq, false)
	b, err := m.NextTokenLogProbs(seq, false)
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for i := range a[0] {
		worst = max(worst, float64(a[0][i]-b[0][i])*float64(a[0][i]-b[0][i]))
	}
	if worst == 0 || worst > 0.5*0.5 {
		t.Fatalf("NF4 changed log-probs by up to %g (want a small, non-zero change)", worst)
	}
}

// writeBnB4bit rewrites a checkpoint in bitsandbytes' serialized NF4 layout (weight as U8 [n/2, 1],
// weight.absmax, weight.quant_map, weight.quant_state.bitsandbytes__nf4), optionally corrupting it.
func writeBnB4bit(t *testing.T, src string, corrupt bool) string {
	t.Helper()
	dir := copyDir(t, src)
	ck, err := hf.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := map[string]hf.RawTensor{}
	f32 := func(v []float32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	}
	for _, name := range ck.Names() {
		info := ck.Tensors[name]
		raw := make([]byte, info.Size)
		if err := info.ReadRaw(raw); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(name, "_proj.weight") {
			ts[name] = hf.RawTensor{DType: info.DType, Shape: info.Shape, Data: raw}
			continue
		}
		tt, _ := model.ConvertRaw(name, info.DType, info.Shape, raw, dtypes.Float32)
		q := quant.QuantizeNF4(tensors.MustCopyFlatData[float32](tt), info.Shape...)
		qmap := quant.NF4
		if corrupt && strings.HasPrefix(name, "model.layers.1.mlp.down_proj") {
			qmap[3] = 0.5
		}
		st, _ := json.Marshal(map[string]any{"quant_type": "nf4", "blocksize": 64, "dtype": "float32", "shape": info.Shape})
		ts[name] = hf.RawTensor{DType: "U8", Shape: []int{len(q.Packed), 1}, Data: q.Packed}
		ts[name+".absmax"] = hf.RawTensor{DType: "F32", Shape: []int{len(q.Absmax)}, Data: f32(q.Absmax)}
		ts[name+".quant_map"] = hf.RawTensor{DType: "F32", Shape: []int{16}, Data: f32(qmap[:])}
		ts[name+".quant_state.bitsandbytes__nf4"] = hf.RawTensor{DType: "U8", Shape: []int{len(st)}, Data: st}
	}
	if err := hf.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPrequantizedCheckpoint loads a "-bnb-4bit" style checkpoint and gets exactly the model that
// quantizing while loading gives; a corrupt quant state names the tensor.
func TestPrequantizedCheckpoint(t *testing.T) {
	src := "testdata/models/llama3_gqa_rope_scaled"
	be, _ := backend.Default()
	onTheFly, err := model.Load(src, be, model.LoadOptions{DType: dtypes.Float32, Load4Bit: true})
	if err != nil {
		t.Fatal(err)
	}
	defer onTheFly.Close()
	pre, err := model.Load(writeBnB4bit(t, src, false), be, model.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	seq := [][]int{{5, 17, 42, 7, 99, 3, 250, 11}}
	a, _ := onTheFly.NextTokenLogProbs(seq, false)
	b, _ := pre.NextTokenLogProbs(seq, false)
	for i := range a[0] {
		if a[0][i] != b[0][i] {
			t.Fatalf("pre-quantized log-prob %d = %v, quantized while loading %v", i, b[0][i], a[0][i])
		}
	}
	_, err = model.Load(writeBnB4bit(t, src, true), be, model.LoadOptions{DType: dtypes.Float32})
	if err == nil || !strings.Contains(err.Error(), "model.layers.1.mlp.down_proj.weight.quant_map") {
		t.Fatalf("corrupt quant_map: %v", err)
	}
}
