// Package model holds the decoder-only transformers gomlxgrpo trains: Llama (3.x), Qwen2 (2.5) and
// Phi3 (Phi-4), loaded from Hugging Face checkpoints into a GoMLX store.
//
// The three architectures differ only in data: which projections are fused, which carry biases, and
// whether the output head is tied to the embeddings. Those differences live in archSpec; the forward
// pass (forward.go) is one function for all three.
//
// Axis glossary used in shapes and einsums:
//
//	B = batch, T = query positions, S = key positions (cache length), D = hidden size,
//	N = query heads, K = key/value heads, G = N/K (queries per kv head), H = head dim,
//	F = MLP intermediate size, V = vocabulary.
//
// Why not GoMLX's ml/zoo/transformer: it owns its variables under its own scope names and builds its
// projections internally, while this model must read Hugging Face tensors by name, swap any single
// projection for NF4 + LoRA (Linear.Source and Linear.Adapter), run the reference policy with
// adapters off, and share one prompt's KV cache among G samples. The pieces GoMLX has that fit are
// used: pos.RoPEWithCosSin (RoPE with precomputed, llama3-scaled cos/sin per row), gradient
// checkpointing, and the optimizer.
package model

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	gmodel "github.com/gomlx/gomlx/ml/model"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
)

// archSpec is the per-architecture data: everything else is shared.
type archSpec struct {
	fusedQKV    bool // Phi3: self_attn.qkv_proj = [q; k; v]
	fusedGateUp bool // Phi3: mlp.gate_up_proj = [gate; up]
	qkvBias     func(c *hf.Config) bool
	oBias       func(c *hf.Config) bool
}

var archSpecs = map[hf.Architecture]archSpec{
	// transformers LlamaAttention: q,k,v,o all use bias=config.attention_bias.
	hf.Llama: {qkvBias: func(c *hf.Config) bool { return c.AttentionBias }, oBias: func(c *hf.Config) bool { return c.AttentionBias }},
	// transformers Qwen2Attention: q,k,v bias=True, o_proj bias=False.
	hf.Qwen2: {qkvBias: func(c *hf.Config) bool { return c.AttentionBias }, oBias: func(*hf.Config) bool { return false }},
	// transformers Phi3Attention: qkv_proj and o_proj without bias; Phi3MLP fused gate_up_proj.
	hf.Phi3: {fusedQKV: true, fusedGateUp: true, qkvBias: func(*hf.Config) bool { return false }, oBias: func(*hf.Config) bool { return false }},
}

// Layer is one decoder block. Projections are Linear values so that later work can swap each for
// NF4 + LoRA without touching the forward pass.
type Layer struct {
	InputNorm, PostAttnNorm *gmodel.Variable // [D]
	// Either Q, K, V (Llama, Qwen2) or QKV (Phi3) is set.
	Q, K, V, QKV *Linear
	O            *Linear
	// Either Gate and Up, or GateUp (Phi3), is set.
	Gate, Up, GateUp *Linear
	Down             *Linear
}

// Model is a loaded checkpoint: config, variables in a GoMLX store, and the layer structure.
type Model struct {
	Config  *hf.Config
	Dir     string
	Backend compute.Backend
	Store   *gmodel.Store
	DType   dtypes.DType // dtype of weights and activations

	Embed     *gmodel.Variable // [V, D]
	Layers    []*Layer
	FinalNorm *gmodel.Variable // [D]
	LMHead    *Linear          // [V, D]; shares Embed's variable when embeddings are tied

	invFreq     []float32 // [H/2] rotary inverse frequencies
	load4bit    bool
	doubleQuant bool
	scratch     *hostScratch // while loading
}

// LoadOptions configures Load.
type LoadOptions struct {
	// DType of weights and activations; zero means Float32 on the CPU (pure Go) backend and BFloat16 otherwise.
	DType dtypes.DType
	// Load4Bit quantizes the projection weights to NF4 while loading (bitsandbytes' load_in_4bit:
	// every nn.Linear but lm_head; embeddings and norms stay 16-bit). Checkpoints that are already
	// NF4 ("-bnb-4bit") are always loaded as NF4.
	Load4Bit bool
	// DoubleQuant also stores NF4's absmax in 8 bits (bitsandbytes' bnb_4bit_use_double_quant):
	// 0.5 instead of 4 bytes per 64 weights.
	DoubleQuant bool
}

// Load reads a Hugging Face model folder (config.json + safetensors) into a Model on backend.
// Loading is strict: every tensor of the checkpoint is consumed and every shape checked.
func Load(dir string, backend compute.Backend, opts LoadOptions) (*Model, error) {
	cfg, err := hf.LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ck, err := hf.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	dtype := opts.DType
	if dtype == dtypes.InvalidDType {
		dtype = DefaultDType(backend)
	}
	m := &Model{Config: cfg, Dir: dir, Backend: backend, Store: gmodel.NewStore(), DType: dtype, invFreq: cfg.InvFreq(), load4bit: opts.Load4Bit, doubleQuant: opts.DoubleQuant}
	if err := m.load(ck); err != nil {
		m.Store.Finalize()
		return nil, err
	}
	return m, nil
}

// DefaultDType is Float32 on the CPU (pure Go) backend, where bf16 is emulated, and BFloat16 on accelerators.
func DefaultDType(backend compute.Backend) dtypes.DType {
	if strings.HasPrefix(backend.Name(), "Go") || strings.Contains(strings.ToLower(backend.Name()), "cpu") {
		return dtypes.Float32
	}
	return dtypes.BFloat16
}

func (m *Model) load(ck *hf.Checkpoint) error {
	m.scratch = &hostScratch{}
	defer func() { m.scratch = nil }()
	c := m.Config
	spec := archSpecs[c.Architecture]
	use := ck.NewConsumer()
	D, F, H, N, K, V := c.HiddenSize, c.IntermediateSize, c.HeadDim, c.NumHeads, c.NumKVHeads, c.VocabSize
	variable := func(name string, shape ...int) (*gmodel.Variable, error) {
		info, err := use.Take(name, shape)
		if err != nil {
			return nil, err
		}
		t, err := ReadTensor(info, m.DType)
		if err != nil {
			return nil, err
		}
		if err := toDevice(t, m.Backend); err != nil {
			return nil, fmt.Errorf("moving %q to the device: %w", name, err)
		}
		v, err := m.Store.CreateVariable(varPath(name), t)
		if err != nil {
			return nil, err
		}
		v.SetTrainable(false) // base weights are frozen; only adapters train
		return v, nil
	}
	linear := func(module string, out, in int, bias bool) (*Linear, error) {
		l := &Linear{Name: module, In: in, Out: out}
		if use.Has(module+".weight.absmax") || (m.load4bit && module != "lm_head") {
			if err := m.loadNF4(use, l); err != nil {
				return nil, err
			}
		} else {
			w, err := variable(module+".weight", out, in)
			if err != nil {
				return nil, err
			}
			l.Weight = w
		}
		if bias {
			var err error
			if l.Bias, err = variable(module+".bias", out); err != nil {
				return nil, err
			}
		}
		return l, nil
	}
	var err error
	if m.Embed, err = variable("model.embed_tokens.weight", V, D); err != nil {
		return err
	}
	for i := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		l := &Layer{}
		wrap := func(e error) error { return fmt.Errorf("layer %d: %w", i, e) }
		if l.InputNorm, err = variable(p+"input_layernorm.weight", D); err != nil {
			return wrap(err)
		}
		if l.PostAttnNorm, err = variable(p+"post_attention_layernorm.weight", D); err != nil {
			return wrap(err)
		}
		qb := spec.qkvBias(c)
		if spec.fusedQKV {
			if l.QKV, err = linear(p+"self_attn.qkv_proj", (N+2*K)*H, D, qb); err != nil {
				return wrap(err)
			}
		} else {
			if l.Q, err = linear(p+"self_attn.q_proj", N*H, D, qb); err != nil {
				return wrap(err)
			}
			if l.K, err = linear(p+"self_attn.k_proj", K*H, D, qb); err != nil {
				return wrap(err)
			}
			if l.V, err = linear(p+"self_attn.v_proj", K*H, D, qb); err != nil {
				return wrap(err)
			}
		}
		if l.O, err = linear(p+"self_attn.o_proj", D, N*H, spec.oBias(c)); err != nil {
			return wrap(err)
		}
		if spec.fusedGateUp {
			if l.GateUp, err = linear(p+"mlp.gate_up_proj", 2*F, D, c.MLPBias); err != nil {
				return wrap(err)
			}
		} else {
			if l.Gate, err = linear(p+"mlp.gate_proj", F, D, c.MLPBias); err != nil {
				return wrap(err)
			}
			if l.Up, err = linear(p+"mlp.up_proj", F, D, c.MLPBias); err != nil {
				return wrap(err)
			}
		}
		if l.Down, err = linear(p+"mlp.down_proj", D, F, c.MLPBias); err != nil {
			return wrap(err)
		}
		m.Layers = append(m.Layers, l)
	}
	if m.FinalNorm, err = variable("model.norm.weight", D); err != nil {
		return err
	}
	if c.TieWordEmbeddings {
		// transformers ties lm_head to embed_tokens and ignores a stored lm_head.weight.
		use.Skip("lm_head.weight")
		m.LMHead = &Linear{Name: "lm_head", Weight: m.Embed, In: D, Out: V}
	} else {
		if !use.Has("lm_head.weight") {
			return fmt.Errorf("checkpoint %s has no lm_head.weight and config.json says tie_word_embeddings=false", ck.Dir)
		}
		if m.LMHead, err = linear("lm_head", V, D, false); err != nil {
			return err
		}
	}
	return use.CheckAllUsed()
}

// varPath maps a Hugging Face tensor name to a store path: "model.layers.0.mlp.up_proj.weight" →
// "/model/layers/0/mlp/up_proj/weight".
func varPath(hfName string) string {
	return "/" + strings.ReplaceAll(hfName, ".", "/")
}

// Linears lists every projection of the model with its Hugging Face module name, in checkpoint order.
func (m *Model) Linears() []*Linear {
	var out []*Linear
	for _, l := range m.Layers {
		for _, p := range []*Linear{l.Q, l.K, l.V, l.QKV, l.O, l.Gate, l.Up, l.GateUp, l.Down} {
			if p != nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// Close frees the model's device memory.
func (m *Model) Close() { m.Store.Finalize() }

// StopTokens are the ids that end a completion: eos_token_id of generation_config.json and of
// config.json, plus tokenizerEOS (the tokenizer's eos_token, or -1), without repeats.
func (m *Model) StopTokens(tokenizerEOS int) []int {
	var out []int
	add := func(ids ...int) {
		for _, id := range ids {
			if id >= 0 && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	add(hf.GenerationEOS(m.Dir)...)
	add(m.Config.EOSTokenID...)
	add(tokenizerEOS)
	return out
}

// PadID is the id written into padded positions (never attended to): tokenizerPad when >= 0, else
// config.json's pad_token_id, else the first stop token, else 0.
func (m *Model) PadID(tokenizerPad int) int {
	switch {
	case tokenizerPad >= 0:
		return tokenizerPad
	case m.Config.PadTokenID >= 0:
		return m.Config.PadTokenID
	}
	if s := m.StopTokens(-1); len(s) > 0 {
		return s[0]
	}
	return 0
}
