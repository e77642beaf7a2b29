package hf

import "fmt"

// Layout lists the tensors of a Hugging Face checkpoint for c's architecture and sizes (Architecture,
// VocabSize, HiddenSize, IntermediateSize, NumLayers, NumHeads, NumKVHeads, HeadDim,
// TieWordEmbeddings), each of dtype, under the names transformers saves and the model package loads:
// Phi-3 fuses q, k, v and gate, up; Qwen2 adds q, k, v biases; a tied model has no lm_head. The
// order (embeddings, final norm, lm_head, then layer by layer) is the one the writers of random
// test checkpoints draw their values in.
func Layout(c *Config, dtype string) []TensorSpec {
	D, F, N, K, H, V := c.HiddenSize, c.IntermediateSize, c.NumHeads, c.NumKVHeads, c.HeadDim, c.VocabSize
	var specs []TensorSpec
	add := func(name string, shape ...int) {
		specs = append(specs, TensorSpec{Name: name, DType: dtype, Shape: shape})
	}
	add("model.embed_tokens.weight", V, D)
	add("model.norm.weight", D)
	if !c.TieWordEmbeddings {
		add("lm_head.weight", V, D)
	}
	for i := range c.NumLayers {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", D)
		add(p+"post_attention_layernorm.weight", D)
		if c.Architecture == Phi3 {
			add(p+"self_attn.qkv_proj.weight", (N+2*K)*H, D)
			add(p+"mlp.gate_up_proj.weight", 2*F, D)
		} else {
			add(p+"self_attn.q_proj.weight", N*H, D)
			add(p+"self_attn.k_proj.weight", K*H, D)
			add(p+"self_attn.v_proj.weight", K*H, D)
			add(p+"mlp.gate_proj.weight", F, D)
			add(p+"mlp.up_proj.weight", F, D)
			if c.Architecture == Qwen2 {
				add(p+"self_attn.q_proj.bias", N*H)
				add(p+"self_attn.k_proj.bias", K*H)
				add(p+"self_attn.v_proj.bias", K*H)
			}
		}
		add(p+"self_attn.o_proj.weight", D, N*H)
		add(p+"mlp.down_proj.weight", D, F)
	}
	return specs
}
