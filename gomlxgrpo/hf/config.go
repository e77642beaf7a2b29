// Package hf reads Hugging Face model folders: config.json, (sharded) safetensors and hub ids.
//
// Loading is strict: unknown architectures, missing keys and malformed values are errors that say
// what was expected, never silent defaults.
package hf

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Architecture names the model classes we implement (config.json "architectures"[0]).
type Architecture string

const (
	Llama Architecture = "LlamaForCausalLM"
	Qwen2 Architecture = "Qwen2ForCausalLM"
	Phi3  Architecture = "Phi3ForCausalLM"
)

// Supported lists the architectures gomlxgrpo can load.
var Supported = []Architecture{Llama, Qwen2, Phi3}

// RoPE holds the rotary-embedding parameters, normalized from either config style:
// the hub's (rope_theta and rope_scaling at top level) or transformers 5's (rope_parameters).
type RoPE struct {
	Theta float64 // base frequency θ
	Type  string  // "default" or "llama3"
	// Llama 3 frequency scaling (rope_type "llama3").
	Factor                        float64
	LowFreqFactor, HighFreqFactor float64
	OriginalMaxPositionEmbeddings int
}

// Config is the subset of config.json that decides the graph. Every field is filled and validated by LoadConfig.
type Config struct {
	Architecture      Architecture
	ModelType         string
	VocabSize         int
	HiddenSize        int // D
	IntermediateSize  int // F
	NumLayers         int
	NumHeads          int // query heads
	NumKVHeads        int // key/value heads (GQA when < NumHeads)
	HeadDim           int
	RMSNormEps        float64
	MaxPositions      int
	TieWordEmbeddings bool
	AttentionBias     bool // q,k,v (and for Llama o) carry a bias
	MLPBias           bool
	HiddenAct         string
	RoPE              RoPE
	TorchDType        string
	BOSTokenID        []int
	EOSTokenID        []int
	PadTokenID        int // -1 when absent
}

// rawConfig mirrors config.json with every key we read; pointers tell "absent" from zero.
type rawConfig struct {
	Architectures         []string        `json:"architectures"`
	ModelType             string          `json:"model_type"`
	VocabSize             *int            `json:"vocab_size"`
	HiddenSize            *int            `json:"hidden_size"`
	IntermediateSize      *int            `json:"intermediate_size"`
	NumHiddenLayers       *int            `json:"num_hidden_layers"`
	NumAttentionHeads     *int            `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	AttentionBias         *bool           `json:"attention_bias"`
	MLPBias               *bool           `json:"mlp_bias"`
	HiddenAct             string          `json:"hidden_act"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           json.RawMessage `json:"rope_scaling"`
	RopeParameters        json.RawMessage `json:"rope_parameters"`
	PartialRotaryFactor   *float64        `json:"partial_rotary_factor"`
	TorchDType            string          `json:"torch_dtype"`
	DType                 string          `json:"dtype"`
	BOSTokenID            json.RawMessage `json:"bos_token_id"`
	EOSTokenID            json.RawMessage `json:"eos_token_id"`
	PadTokenID            json.RawMessage `json:"pad_token_id"`
	QuantizationConfig    json.RawMessage `json:"quantization_config"`
}

// LoadConfig reads and validates dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("%s has no config.json: point --model at a Hugging Face model folder (config.json + *.safetensors) or a hub id such as Qwen/Qwen2.5-0.5B-Instruct", dir)
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return ParseConfig(data)
}

// ParseConfig parses and validates the bytes of a config.json.
func ParseConfig(data []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("config.json is not valid JSON: %w", err)
	}
	if len(r.Architectures) == 0 {
		return nil, fmt.Errorf("config.json has no \"architectures\" entry; expected one of %v", Supported)
	}
	c := &Config{Architecture: Architecture(r.Architectures[0]), ModelType: r.ModelType, HiddenAct: r.HiddenAct}
	known := false
	for _, a := range Supported {
		known = known || a == c.Architecture
	}
	if !known {
		return nil, fmt.Errorf("unsupported architecture %q: gomlxgrpo implements %v", c.Architecture, Supported)
	}
	req := func(name string, p *int) (int, error) {
		if p == nil {
			return 0, fmt.Errorf("config.json: missing %q (required for %s)", name, c.Architecture)
		}
		if *p <= 0 {
			return 0, fmt.Errorf("config.json: %q must be positive, got %d", name, *p)
		}
		return *p, nil
	}
	var errs []error
	set := func(dst *int, name string, p *int) {
		v, err := req(name, p)
		if err != nil {
			errs = append(errs, err)
		}
		*dst = v
	}
	set(&c.VocabSize, "vocab_size", r.VocabSize)
	set(&c.HiddenSize, "hidden_size", r.HiddenSize)
	set(&c.IntermediateSize, "intermediate_size", r.IntermediateSize)
	set(&c.NumLayers, "num_hidden_layers", r.NumHiddenLayers)
	set(&c.NumHeads, "num_attention_heads", r.NumAttentionHeads)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	c.NumKVHeads = c.NumHeads
	if r.NumKeyValueHeads != nil {
		c.NumKVHeads = *r.NumKeyValueHeads
	}
	if c.NumKVHeads <= 0 || c.NumHeads%c.NumKVHeads != 0 {
		return nil, fmt.Errorf("config.json: num_attention_heads (%d) must be a positive multiple of num_key_value_heads (%d)", c.NumHeads, c.NumKVHeads)
	}
	if r.HeadDim != nil && *r.HeadDim > 0 {
		c.HeadDim = *r.HeadDim
	} else {
		if c.HiddenSize%c.NumHeads != 0 {
			return nil, fmt.Errorf("config.json: hidden_size (%d) is not divisible by num_attention_heads (%d) and head_dim is absent", c.HiddenSize, c.NumHeads)
		}
		c.HeadDim = c.HiddenSize / c.NumHeads
	}
	if c.HeadDim%2 != 0 {
		return nil, fmt.Errorf("config.json: head_dim %d must be even for rotary embeddings", c.HeadDim)
	}
	if r.PartialRotaryFactor != nil && *r.PartialRotaryFactor != 1 {
		return nil, fmt.Errorf("config.json: partial_rotary_factor %g is not supported (only 1.0)", *r.PartialRotaryFactor)
	}
	c.RMSNormEps = 1e-6
	if r.RMSNormEps != nil {
		c.RMSNormEps = *r.RMSNormEps
	}
	c.MaxPositions = 2048
	if r.MaxPositionEmbeddings != nil {
		c.MaxPositions = *r.MaxPositionEmbeddings
	}
	// Defaults as in each transformers config class.
	switch c.Architecture {
	case Qwen2:
		c.AttentionBias = true // Qwen2Attention: q/k/v bias=True, o bias=False.
	}
	if r.AttentionBias != nil {
		c.AttentionBias = *r.AttentionBias
	}
	if r.MLPBias != nil {
		c.MLPBias = *r.MLPBias
	}
	if c.HiddenAct == "" {
		c.HiddenAct = "silu"
	}
	if c.HiddenAct != "silu" {
		return nil, fmt.Errorf("config.json: hidden_act %q is not supported (only silu)", c.HiddenAct)
	}
	if r.TieWordEmbeddings != nil {
		c.TieWordEmbeddings = *r.TieWordEmbeddings
	}
	c.TorchDType = r.TorchDType
	if c.TorchDType == "" {
		c.TorchDType = r.DType
	}
	var err error
	if c.RoPE, err = parseRoPE(&r); err != nil {
		return nil, err
	}
	if c.BOSTokenID, err = intOrList(r.BOSTokenID, "bos_token_id"); err != nil {
		return nil, err
	}
	if c.EOSTokenID, err = intOrList(r.EOSTokenID, "eos_token_id"); err != nil {
		return nil, err
	}
	pad, err := intOrList(r.PadTokenID, "pad_token_id")
	if err != nil {
		return nil, err
	}
	c.PadTokenID = -1
	if len(pad) > 0 {
		c.PadTokenID = pad[0]
	}
	return c, nil
}

// rawRoPE is one rope_scaling / rope_parameters object.
type rawRoPE struct {
	RopeType                      string   `json:"rope_type"`
	Type                          string   `json:"type"` // older spelling of rope_type
	RopeTheta                     *float64 `json:"rope_theta"`
	Factor                        *float64 `json:"factor"`
	LowFreqFactor                 *float64 `json:"low_freq_factor"`
	HighFreqFactor                *float64 `json:"high_freq_factor"`
	OriginalMaxPositionEmbeddings *int     `json:"original_max_position_embeddings"`
}

// parseRoPE accepts the hub style (rope_theta + rope_scaling at top level) and transformers 5's
// rope_parameters (the same keys plus rope_theta in one object).
func parseRoPE(r *rawConfig) (RoPE, error) {
	rope := RoPE{Theta: 10000, Type: "default"}
	if r.RopeTheta != nil {
		rope.Theta = *r.RopeTheta
	}
	var obj *rawRoPE
	for _, raw := range []json.RawMessage{r.RopeParameters, r.RopeScaling} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var o rawRoPE
		if err := json.Unmarshal(raw, &o); err != nil {
			return rope, fmt.Errorf("config.json: rope parameters are not an object: %w", err)
		}
		if obj == nil {
			obj = &o
		}
	}
	if obj == nil {
		return rope, nil
	}
	if obj.RopeTheta != nil {
		rope.Theta = *obj.RopeTheta
	}
	t := obj.RopeType
	if t == "" {
		t = obj.Type
	}
	switch t {
	case "", "default":
		rope.Type = "default"
	case "llama3":
		rope.Type = "llama3"
		if obj.Factor == nil || obj.LowFreqFactor == nil || obj.HighFreqFactor == nil || obj.OriginalMaxPositionEmbeddings == nil {
			return rope, fmt.Errorf("config.json: rope_type llama3 needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings")
		}
		rope.Factor, rope.LowFreqFactor, rope.HighFreqFactor = *obj.Factor, *obj.LowFreqFactor, *obj.HighFreqFactor
		rope.OriginalMaxPositionEmbeddings = *obj.OriginalMaxPositionEmbeddings
	default:
		return rope, fmt.Errorf("config.json: rope_type %q is not supported (supported: default, llama3)", t)
	}
	return rope, nil
}

// InvFreq returns the rotary inverse frequencies, [HeadDim/2], as transformers computes them:
//
//	inv_freq[i] = 1 / θ^(2i/d)
//
// and for rope_type "llama3" (transformers' _compute_llama3_parameters):
//
//	λ = 2π / inv_freq;  low = L_orig/low_freq_factor;  high = L_orig/high_freq_factor
//	λ > low:            inv_freq / factor
//	λ < high:           inv_freq
//	otherwise:          (1-s)·inv_freq/factor + s·inv_freq,  s = (L_orig/λ - low_freq_factor)/(high_freq_factor - low_freq_factor)
func (c *Config) InvFreq() []float32 {
	half := c.HeadDim / 2
	out := make([]float32, half)
	for i := range half {
		// transformers: base ** (arange(0, dim, 2, int64).float() / dim) in float32.
		exp := float32(2*i) / float32(c.HeadDim)
		inv := float64(1 / float32(math.Pow(c.RoPE.Theta, float64(exp))))
		if c.RoPE.Type == "llama3" {
			r := c.RoPE
			lowWave := float64(r.OriginalMaxPositionEmbeddings) / r.LowFreqFactor
			highWave := float64(r.OriginalMaxPositionEmbeddings) / r.HighFreqFactor
			wave := 2 * math.Pi / inv
			switch {
			case wave > lowWave:
				inv = inv / r.Factor
			case wave < highWave:
			default:
				s := (float64(r.OriginalMaxPositionEmbeddings)/wave - r.LowFreqFactor) / (r.HighFreqFactor - r.LowFreqFactor)
				inv = (1-s)*inv/r.Factor + s*inv
			}
		}
		out[i] = float32(inv)
	}
	return out
}

func intOrList(raw json.RawMessage, name string) ([]int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one int
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int{one}, nil
	}
	var many []int
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("config.json: %s must be an integer or a list of integers, got %s", name, raw)
	}
	return many, nil
}

// GenerationEOS returns eos_token_id from dir/generation_config.json (nil if absent).
func GenerationEOS(dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "generation_config.json"))
	if err != nil {
		return nil
	}
	var g struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if json.Unmarshal(data, &g) != nil {
		return nil
	}
	ids, _ := intOrList(g.EOS, "eos_token_id")
	return ids
}
