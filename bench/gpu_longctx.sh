#!/bin/bash
# Device call (issue 7 item 5; not yet run — the sixth session added query-chunked attention for it): one GRPO step on the Llama-3.1-8B shape with 4,096-token completions
# (NF4 + LoRA r=16, G=8, 256-token prompt) on one 80 GB card; peak GPU memory to set beside
# Unsloth's published long-context figures (../shared/docs/grpo-reference.md §3). XLA's per-executable
# memory is logged to explain the peak. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
GOMLXGRPO_XLA_LOG=1 timeout 560 .gpu/${BIN:-grpo-cuda} bench grpo --model $CK/llama3.1-8b --steps 2 --every 1 --completion 4096 \
  2> "$OUT/xla_mem_longctx.log" | grep --line-buffered -E '^\{|rror|panic' | tee "$OUT/longctx.jsonl"
grep -i "rror\|out of memory" "$OUT/xla_mem_longctx.log" | tail -5
