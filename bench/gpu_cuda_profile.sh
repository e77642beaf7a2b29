#!/bin/bash
# Device call: where the CUDA decoder's step time goes. Generation on the Qwen2.5-1.5B shape (NF4,
# batch 8) with the captured graph and with direct launches, then ncu's per-kernel time of the
# decoder's kernels over a few steps. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; [ -d $CK/qwen2.5-1.5b ] || python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b
for g in ${GRAPHS:-1 0}; do
  GOMLXGRPO_CUDA_GRAPH=$g timeout 100 .gpu/grpo-cuda bench generate --model $Q --load-in-4bit 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -3 | sed "s/^{/{\"cuda_graph\":$g,/"
done | tee "$OUT/generate_graph.jsonl"
K='regex:^(nf4_gemv_lora|gemv_bf16_lora|lora_down|rmsnorm_bf16|rope_cache_bf16|attention_decode_bf16|embed_rows_bf16|residual_add_bf16|swiglu_bf16|sample_rows)$'
GOMLXGRPO_CUDA_GRAPH=0 timeout ${NCU_S:-200} ncu --metrics gpu__time_duration.sum,dram__bytes_read.sum --csv -k "$K" --launch-skip ${SKIP:-4000} --launch-count ${COUNT:-1600} \
  .gpu/grpo-cuda bench generate --model $Q --load-in-4bit > /tmp/ncu.csv 2>/tmp/ncu.err
tail -3 /tmp/ncu.err
python3 - <<'PY' | tee "$OUT/ncu_cuda_summary.txt"
import csv, collections
rows = list(csv.reader(open("/tmp/ncu.csv")))
start = next((i for i, r in enumerate(rows) if "Kernel Name" in r), None)
if start is None: raise SystemExit("no ncu table: " + " | ".join(",".join(r) for r in rows[:5]))
rows = rows[start:]
hdr = rows[0]; ki = hdr.index("Kernel Name"); mi = hdr.index("Metric Name"); vi = hdr.index("Metric Value")
gi = hdr.index("Grid Size") if "Grid Size" in hdr else None
ui = hdr.index("Metric Unit")
scale = {"nsecond": 1, "usecond": 1e3, "msecond": 1e6, "second": 1e9, "byte": 1, "Kbyte": 1e3, "Mbyte": 1e6, "Gbyte": 1e9}
t = collections.Counter(); byt = collections.Counter(); cnt = collections.Counter()
for r in rows[1:]:
    try: v = float(r[vi].replace(",", "")) * scale.get(r[ui], 1)
    except ValueError: continue
    name = r[ki].split("(")[0][:40] + (" " + r[gi] if gi is not None else "")
    if r[mi].startswith("gpu__time"): t[name] += v; cnt[name] += 1
    else: byt[name] += v
s = sum(t.values())
print(f"{sum(cnt.values())} kernels, {s/1e6:.3f} ms total")
for k, v in t.most_common(30):
    print(f"{v/1e3:10.1f} us {cnt[k]:6d}x {v/cnt[k]/1e3:8.2f} us/launch {byt[k]/max(v,1):8.1f} B/ns  {k}")
PY
