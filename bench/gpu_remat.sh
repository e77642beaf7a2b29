#!/bin/bash
# Device call (issue 7 item 2): what the gradient executable's temporaries are. The 8B step's
# loss-and-gradient executable kept 16.6 GiB of temporaries after the NF4 recompute change, which
# fits two explanations: every projection's bf16 copy kept from the forward to the backward pass,
# or gradient checkpointing not taking effect in XLA (every layer's activations saved). On the
# Qwen2.5-1.5B shape (one step each, XLA's per-executable memory): NF4 with and without
# checkpointing, bf16 with checkpointing, then XLA's buffer assignment of the first (its peak
# buffers: which instructions and shapes hold memory at the peak). Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b
temps() { grep -oE 'Temporary:[0-9.]+ [GMK]iB' "$OUT/$1.log" | head -8 | tr '\n' ' '; echo; }
{
run_logged nf4-ckpt 90 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $Q --steps 1; temps nf4-ckpt
run_logged nf4-nockpt 90 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $Q --steps 1 --gradient-checkpointing=false; temps nf4-nockpt
run_logged bf16-ckpt 90 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $Q --steps 1 --load-in-4bit=false; temps bf16-ckpt
XLA_FLAGS="--xla_dump_to=/tmp/dump --xla_dump_hlo_as_text" run_logged nf4-ckpt-dump 120 "" grpo-cuda bench grpo --model $Q --steps 1
} | tee "$OUT/remat.jsonl"
f=$(ls -S /tmp/dump/*buffer-assignment.txt 2>/dev/null | head -1)
[ -n "$f" ] && { echo "== $f"; grep -m1 -A3 -i "total bytes\|Total" "$f"; awk '/Peak buffers/{p=1} p{print; if (++n>160) exit}' "$f"; } | tee "$OUT/peak_buffers.txt" | cut -c1-220 | head -120
ls -S /tmp/dump/*after_optimizations.txt 2>/dev/null | head -1 | xargs -r -I{} sh -c 'gzip -c {} > $OUT/$(basename {}).gz'
echo "all done at ${SECONDS}s"
