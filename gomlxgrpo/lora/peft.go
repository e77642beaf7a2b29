package lora

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// PEFT's on-disk format (peft/utils/save_and_load.py): adapter_config.json plus
// adapter_model.safetensors whose tensors are named
//
//	base_model.model.<module>.lora_A.weight  [r, In]
//	base_model.model.<module>.lora_B.weight  [Out, r]
//
// (the adapter name "default" is stripped on save).
const peftPrefix = "base_model.model."

// peftConfig is adapter_config.json as PEFT writes it for LoRA.
type peftConfig struct {
	PeftType            string             `json:"peft_type"`
	TaskType            string             `json:"task_type"`
	BaseModelNameOrPath string             `json:"base_model_name_or_path"`
	R                   int                `json:"r"`
	LoraAlpha           float64            `json:"lora_alpha"`
	LoraDropout         float64            `json:"lora_dropout"`
	TargetModules       []string           `json:"target_modules"`
	UseRSLoRA           bool               `json:"use_rslora"`
	Bias                string             `json:"bias"`
	FanInFanOut         bool               `json:"fan_in_fan_out"`
	InitLoraWeights     bool               `json:"init_lora_weights"`
	InferenceMode       bool               `json:"inference_mode"`
	UseDoRA             bool               `json:"use_dora"`
	ModulesToSave       []string           `json:"modules_to_save"`
	LayersToTransform   []int              `json:"layers_to_transform"`
	LayersPattern       *string            `json:"layers_pattern"`
	RankPattern         map[string]int     `json:"rank_pattern"`
	AlphaPattern        map[string]float64 `json:"alpha_pattern"`
	Revision            *string            `json:"revision"`
}

// Save writes the adapters in PEFT's format into dir (adapter weights in float32).
func (ad *Adapters) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfg := peftConfig{
		PeftType: "LORA", TaskType: "CAUSAL_LM", BaseModelNameOrPath: ad.m.Dir, R: ad.Config.R, LoraAlpha: ad.Config.Alpha,
		LoraDropout: ad.Config.Dropout, TargetModules: ad.Modules(), UseRSLoRA: ad.Config.UseRSLoRA, Bias: "none",
		InitLoraWeights: true, InferenceMode: true, RankPattern: map[string]int{}, AlphaPattern: map[string]float64{},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), b, 0o644); err != nil {
		return err
	}
	ts := map[string]hf.RawTensor{}
	for _, a := range ad.List {
		for _, p := range []struct {
			name string
			t    *tensors.Tensor
		}{{"lora_A", a.A.MustValue()}, {"lora_B", a.B.MustValue()}} {
			raw, err := f32Bytes(p.t)
			if err != nil {
				return err
			}
			ts[peftPrefix+a.Module+"."+p.name+".weight"] = hf.RawTensor{DType: "F32", Shape: p.t.Shape().Dimensions, Data: raw}
		}
	}
	return hf.WriteSafetensors(filepath.Join(dir, "adapter_model.safetensors"), ts, map[string]string{"format": "pt"})
}

// Load reads a PEFT LoRA adapter folder onto m: it attaches adapters as adapter_config.json says and
// fills them from adapter_model.safetensors. Every tensor must match a projection of m with the right
// shape; the first mismatch is reported with both shapes.
func Load(m *model.Model, dir string) (*Adapters, error) {
	data, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		return nil, fmt.Errorf("%s is not a PEFT adapter folder (no adapter_config.json): %w", dir, err)
	}
	var pc peftConfig
	if err := json.Unmarshal(data, &pc); err != nil {
		return nil, fmt.Errorf("adapter_config.json: %w", err)
	}
	if pc.PeftType != "LORA" {
		return nil, fmt.Errorf("adapter_config.json: peft_type %q; only LORA is supported", pc.PeftType)
	}
	if pc.UseDoRA || len(pc.RankPattern) > 0 || len(pc.AlphaPattern) > 0 || pc.FanInFanOut {
		return nil, fmt.Errorf("adapter_config.json: DoRA, rank/alpha patterns and fan_in_fan_out are not supported")
	}
	infos, _, err := hf.ReadSafetensorsHeader(filepath.Join(dir, "adapter_model.safetensors"))
	if err != nil {
		return nil, err
	}
	ad, err := Attach(m, Config{R: pc.R, Alpha: pc.LoraAlpha, Dropout: pc.LoraDropout, TargetModules: pc.TargetModules, UseRSLoRA: pc.UseRSLoRA})
	if err != nil {
		return nil, fmt.Errorf("adapter in %s does not fit this model: %w", dir, err)
	}
	byName := map[string]*Adapter{}
	for _, a := range ad.List {
		byName[a.Module] = a
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	seen := map[string]bool{}
	for i := range infos {
		info := &infos[i]
		name := strings.TrimPrefix(info.Name, peftPrefix)
		name = strings.Replace(name, ".default.weight", ".weight", 1)
		var module, which string
		switch {
		case strings.HasSuffix(name, ".lora_A.weight"):
			module, which = strings.TrimSuffix(name, ".lora_A.weight"), "A"
		case strings.HasSuffix(name, ".lora_B.weight"):
			module, which = strings.TrimSuffix(name, ".lora_B.weight"), "B"
		default:
			return nil, fmt.Errorf("adapter tensor %q is not a LoRA A/B weight", info.Name)
		}
		a := byName[module]
		if a == nil {
			return nil, fmt.Errorf("adapter tensor %q: this model has no projection %s (adapter made for another base model?)", info.Name, module)
		}
		v := a.A
		if which == "B" {
			v = a.B
		}
		if want := v.Shape().Dimensions; !slices.Equal(info.Shape, want) {
			return nil, fmt.Errorf("adapter made for another base model: layer %s lora_%s has shape %v in the adapter, %v in this model", module, which, info.Shape, want)
		}
		t, err := model.ReadTensor(info, dtypes.Float32)
		if err != nil {
			return nil, err
		}
		if err := v.SetValue(t); err != nil {
			return nil, err
		}
		seen[module+which] = true
	}
	for _, a := range ad.List {
		if !seen[a.Module+"A"] || !seen[a.Module+"B"] {
			return nil, fmt.Errorf("adapter file lacks weights for %s (target_modules says it is adapted)", a.Module)
		}
	}
	return ad, nil
}

// f32Bytes returns t's values as little-endian float32 bytes.
func f32Bytes(t *tensors.Tensor) ([]byte, error) {
	var out []byte
	err := t.ConstFlatData(func(flat any) {
		switch f := flat.(type) {
		case []float32:
			out = make([]byte, 4*len(f))
			for i, v := range f {
				binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
			}
		case []bfloat16.BFloat16:
			out = make([]byte, 4*len(f))
			for i, v := range f {
				binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v.Float32()))
			}
		}
	})
	if out == nil && err == nil {
		err = fmt.Errorf("unsupported dtype %s", t.Shape().DType)
	}
	return out, err
}
