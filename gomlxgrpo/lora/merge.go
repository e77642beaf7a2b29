package lora

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// linearOf finds the projection named module.
func linearOf(ad *Adapters, module string) *model.Linear {
	for _, l := range ad.m.Linears() {
		if l.Name == module {
			return l
		}
	}
	return nil
}

// SaveMerged writes a plain Hugging Face checkpoint with every adapter folded into its weight,
//
//	W' = W + s·B·A
//
// in dtype "BF16" (PEFT's merge_and_unload + save_pretrained; Unsloth's save_method="merged_16bit")
// or "F32". config.json is copied with torch_dtype set accordingly; tokenizer and generation files too.
func (ad *Adapters) SaveMerged(dir, dtype string) error {
	if dtype != "BF16" && dtype != "F32" {
		return fmt.Errorf("merged dtype must be BF16 or F32, got %q", dtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	delta := map[string]*Adapter{}
	for _, a := range ad.List {
		delta[a.Module+".weight"] = a
	}
	ts := map[string]hf.RawTensor{}
	for v := range ad.m.Store.IterVariables() {
		p := v.Path()
		if !strings.HasPrefix(p, "/model/") && !strings.HasPrefix(p, "/lm_head/") {
			continue // adapters, optimizer state, counters
		}
		if strings.Contains(p, "/weight_absmax") {
			continue // read with its packed codes below
		}
		var w []float32
		shape := v.Shape().Dimensions
		if strings.HasSuffix(p, "/weight_nf4") {
			// A 4-bit weight: dequantize (the merged checkpoint is 16-bit, Unsloth's "merged_16bit").
			p = strings.TrimSuffix(p, "_nf4")
			l := linearOf(ad, strings.ReplaceAll(strings.TrimPrefix(strings.TrimSuffix(p, "/weight"), "/"), "/", "."))
			if l == nil {
				return fmt.Errorf("%s: 4-bit weight without its projection", p)
			}
			var err error
			if w, err = l.DequantizeNF4(); err != nil {
				return err
			}
			shape = []int{l.Out, l.In}
		}
		name := strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", ".")
		if w == nil {
			var err error
			if w, err = tensors.CopyFlatData[float32](mustF32(v.MustValue())); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if a := delta[name]; a != nil {
			A := tensors.MustCopyFlatData[float32](mustF32(a.A.MustValue())) // [r, In]
			B := tensors.MustCopyFlatData[float32](mustF32(a.B.MustValue())) // [Out, r]
			r, in, out, s := ad.Config.R, a.Linear.In, a.Linear.Out, ad.Config.Scale()
			for o := range out {
				for i := range in {
					acc := 0.0
					for k := range r {
						acc += float64(B[o*r+k]) * float64(A[k*in+i])
					}
					w[o*in+i] += float32(s * acc)
				}
			}
		}
		var raw []byte
		if dtype == "BF16" {
			raw = make([]byte, 2*len(w))
			for i, x := range w {
				binary.LittleEndian.PutUint16(raw[2*i:], uint16(bfloat16.FromFloat32(x)))
			}
		} else {
			raw = make([]byte, 4*len(w))
			for i, x := range w {
				binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
			}
		}
		ts[name] = hf.RawTensor{DType: dtype, Shape: shape, Data: raw}
	}
	if err := hf.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	cfg, err := os.ReadFile(filepath.Join(ad.m.Dir, "config.json"))
	if err != nil {
		return err
	}
	var c map[string]any
	if err := json.Unmarshal(cfg, &c); err != nil {
		return err
	}
	c["torch_dtype"] = map[string]string{"BF16": "bfloat16", "F32": "float32"}[dtype]
	delete(c, "quantization_config")
	cfg, _ = json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644); err != nil {
		return err
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "chat_template.jinja"} {
		if b, err := os.ReadFile(filepath.Join(ad.m.Dir, f)); err == nil {
			if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// mustF32 returns t as float32 (converting bfloat16 on the host).
func mustF32(t *tensors.Tensor) *tensors.Tensor {
	if t.Shape().DType.String() == "Float32" {
		return t
	}
	var vals []float32
	t.MustConstFlatData(func(flat any) {
		if f, ok := flat.([]bfloat16.BFloat16); ok {
			vals = make([]float32, len(f))
			for i, v := range f {
				vals[i] = v.Float32()
			}
		}
	})
	if vals == nil {
		panic(fmt.Sprintf("lora: cannot read %s as float32", t.Shape()))
	}
	return tensors.FromFlatDataAndDimensions(vals, t.Shape().Dimensions...)
}
