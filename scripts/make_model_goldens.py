"""Writes tiny random checkpoints of each architecture with transformers' reference outputs.

Run where transformers is installed (the GPU machine has 5.17; CPU is enough):

    python3 scripts/make_model_goldens.py gomlxgrpo/model/testdata/models

Each case folder gets config.json, safetensors (some sharded, in f32, bf16 or f16) and golden.json:
  logprobs:        log p(ids[t+1] | ids[..t]) of a random sequence, float32 eager attention
  batch:           a left-padded batch with attention mask and position ids = cumsum(mask) - 1
  greedy:          greedy continuations (no EOS) of two prompts, each alone and as a left-padded batch
Models are always evaluated in float32 (bf16/f16 checkpoints are upcast), which is what the Go
tests load them as on the CPU.
"""
import json, os, sys
import torch
from transformers import LlamaConfig, Qwen2Config, Phi3Config, AutoModelForCausalLM
import transformers

OUT = sys.argv[1] if len(sys.argv) > 1 else "gomlxgrpo/model/testdata/models"
V = 512
BASE = dict(vocab_size=V, hidden_size=64, intermediate_size=96, num_hidden_layers=2, max_position_embeddings=256,
            rms_norm_eps=1e-6, bos_token_id=1, eos_token_id=2, pad_token_id=0)

CASES = [
    # name, config class, overrides, save dtype, shard size, config style ("hub" rewrites rope to top level)
    ("llama3_gqa_rope_scaled", LlamaConfig, dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
        rope_theta=500000.0, rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
        original_max_position_embeddings=32)), torch.float32, None, "hub"),
    ("llama_mqa_tied_bf16_sharded", LlamaConfig, dict(num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=True,
        rope_theta=10000.0, head_dim=32), torch.bfloat16, "60KB", "v5"),
    ("qwen2_gqa_tied_bias", Qwen2Config, dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
        rope_theta=1000000.0), torch.float32, None, "hub"),
    ("qwen2_mha_untied_f16_sharded", Qwen2Config, dict(num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=False,
        rope_theta=1000000.0), torch.float16, "100KB", "v5"),
    ("phi3_gqa_fused", Phi3Config, dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
        rope_theta=250000.0, original_max_position_embeddings=256, resid_pdrop=0.0, embd_pdrop=0.0, attention_dropout=0.0),
        torch.float32, None, "hub"),
    ("phi3_mqa_bf16_sharded", Phi3Config, dict(num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=False,
        rope_theta=10000.0, original_max_position_embeddings=256), torch.bfloat16, "80KB", "v5"),
]


def hub_style(path):
    """Rewrite transformers 5's rope_parameters as the hub's top-level rope_theta (+ rope_scaling)."""
    cfg = json.load(open(path))
    rp = cfg.pop("rope_parameters", None)
    if rp is not None:
        rp = dict(rp)
        cfg["rope_theta"] = rp.pop("rope_theta")
        if rp.get("rope_type", "default") != "default":
            cfg["rope_scaling"] = rp
        else:
            cfg["rope_scaling"] = None
    json.dump(cfg, open(path, "w"), indent=2, sort_keys=True)
    return cfg


def logprobs(model, ids, mask=None, pos=None):
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits.float()
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return lp


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    failed = []
    for case in CASES:
        try:
            one(*case)
        except Exception:
            import traceback; traceback.print_exc(); failed.append(case[0])
    if failed:
        sys.exit(f"failed: {failed}")


def one(name, cls, over, dtype, shard, style):
        kw = dict(BASE); kw.update(over)
        cfg = cls(**kw)
        cfg._attn_implementation = "eager"
        torch.manual_seed(hash(name) % 2**31)
        m = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
        with torch.no_grad():  # larger-than-default init so that logits are far from uniform
            for n, p in m.named_parameters():
                if "norm" in n:
                    p.copy_(1 + 0.1 * torch.randn_like(p))
                else:
                    p.normal_(0, 0.08)
        m = m.to(dtype)
        d = os.path.join(OUT, name)
        kwargs = dict(safe_serialization=True)
        if shard:
            kwargs["max_shard_size"] = shard
        m.save_pretrained(d, **kwargs)
        for f in ["generation_config.json"]:
            p = os.path.join(d, f)
            if os.path.exists(p):
                os.remove(p)
        if style == "hub":
            hub_style(os.path.join(d, "config.json"))
        # Reference: reload what was written, in float32, eager attention.
        ref = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        g = torch.Generator().manual_seed(1)
        ids = torch.randint(3, V, (1, 40), generator=g)
        lp = logprobs(ref, ids)[0].tolist()
        # Left-padded batch: rows of length 40, 29 and 17.
        lens = [40, 29, 17]
        rows = [torch.randint(3, V, (n,), generator=g) for n in lens]
        W = max(lens)
        bid = torch.zeros(len(lens), W, dtype=torch.long)
        mask = torch.zeros(len(lens), W, dtype=torch.long)
        for i, r in enumerate(rows):
            bid[i, W - len(r):] = r
            mask[i, W - len(r):] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        blp = logprobs(ref, bid, mask, pos)
        batch = [blp[i, W - n:].tolist() for i, n in enumerate(lens)]
        # Greedy continuations.
        prompts = [torch.randint(3, V, (n,), generator=g).tolist() for n in (11, 6)]
        new = 12
        alone = []
        for p in prompts:
            out = ref.generate(torch.tensor([p]), max_new_tokens=new, min_new_tokens=new, do_sample=False,
                               eos_token_id=None, pad_token_id=0)
            alone.append(out[0, len(p):].tolist())
        P = max(len(p) for p in prompts)
        pid = torch.zeros(2, P, dtype=torch.long); pm = torch.zeros(2, P, dtype=torch.long)
        for i, p in enumerate(prompts):
            pid[i, P - len(p):] = torch.tensor(p); pm[i, P - len(p):] = 1
        out = ref.generate(pid, attention_mask=pm, max_new_tokens=new, min_new_tokens=new, do_sample=False,
                           eos_token_id=None, pad_token_id=0)
        batched = [out[i, P:].tolist() for i in range(2)]
        golden = dict(transformers=transformers.__version__, torch=torch.__version__, architecture=cfg.architectures[0] if cfg.architectures else cls.__name__,
                      saved_dtype=str(dtype), sharded=bool(shard), config_style=style,
                      ids=ids[0].tolist(), logprobs=lp,
                      batch=dict(rows=[r.tolist() for r in rows], logprobs=batch),
                      greedy=dict(prompts=prompts, new_tokens=new, alone=alone, batched=batched))
        json.dump(golden, open(os.path.join(d, "golden.json"), "w"))
        print(name, "ok", sorted(os.listdir(d)), flush=True)


if __name__ == "__main__":
    main()
