"""Peer baseline for the foundation benchmarks (issue: load + forward), transformers beside gomlxgrpo.

    python3 bench/hf_foundation.py make DIR [SHAPE...]  # random bf16 checkpoints with real shapes under DIR
    python3 bench/hf_foundation.py load DIR/llama3.1-8b
    python3 bench/hf_foundation.py forward DIR/qwen2.5-1.5b 8 512

Prints one JSON line per measurement. Random weights: time and memory depend on shapes, not values.
"""
import json, os, resource, sys, time, subprocess
import torch
from transformers import AutoConfig, AutoModelForCausalLM

from hf_grpo_step import SHAPES as PEER_SHAPES  # the peer's shapes (same folder)

# The peer's shapes, with Llama-3.1-8B's llama3 RoPE scaling (its checkpoints carry it; the load
# and forward goldens read it).
SHAPES = dict(PEER_SHAPES)
SHAPES["llama3.1-8b"] = dict(PEER_SHAPES["llama3.1-8b"], rope_scaling=dict(
    rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0, original_max_position_embeddings=8192))


def make(root, names=None):
    for name, kw in SHAPES.items():
        if names and name not in names:
            continue
        d = os.path.join(root, name)
        if os.path.exists(os.path.join(d, "config.json")):
            continue
        kw = dict(kw); mt = kw.pop("model_type")
        cfg = AutoConfig.for_model(mt, **kw)
        t = time.time()
        with torch.device("cuda"):
            m = AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        m.save_pretrained(d, max_shard_size="5GB")
        del m; torch.cuda.empty_cache()
        print(json.dumps(dict(kind="make", shape=name, seconds=round(time.time() - t, 1))), flush=True)


def gpu_used_gib():
    try:
        out = subprocess.check_output(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]).decode()
        return round(float(out.split()[0]) / 1024, 2)
    except Exception:
        return -1


def load(d):
    t = time.time()
    m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16, device_map="cuda")
    torch.cuda.synchronize()
    dt = time.time() - t
    print(json.dumps(dict(kind="load", impl="transformers", model=d, load_s=round(dt, 2),
                          host_peak_rss_gib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
                          gpu_allocated_gib=round(torch.cuda.memory_allocated() / 2**30, 2), gpu_used_gib=gpu_used_gib())), flush=True)


def forward(d, batch, seq, iters=10):
    m = AutoModelForCausalLM.from_pretrained(d, dtype=torch.bfloat16, device_map="cuda", attn_implementation="sdpa").eval()
    ids = torch.randint(0, m.config.vocab_size, (batch, seq), device="cuda")
    with torch.no_grad():
        for _ in range(2):
            m(ids).logits.max().item()
        torch.cuda.synchronize(); t = time.time()
        for _ in range(iters):
            m(ids).logits.max().item()
        torch.cuda.synchronize(); dt = (time.time() - t) / iters
    print(json.dumps(dict(kind="forward", impl="transformers", model=d, batch=batch, seq=seq, seconds=round(dt, 4),
                          tok_per_s=round(batch * seq / dt), gpu_peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2))), flush=True)


if __name__ == "__main__":
    print(json.dumps(dict(torch=torch.__version__, gpu=torch.cuda.get_device_name())), flush=True)
    cmd = sys.argv[1]
    if cmd == "make":
        make(sys.argv[2], sys.argv[3:] or ["qwen2.5-1.5b", "llama3.1-8b"])
    elif cmd == "load":
        load(sys.argv[2])
    elif cmd == "forward":
        forward(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
