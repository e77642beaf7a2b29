#!/bin/bash
# Device call (issue 7 item 4): 200 GRPO steps on the Qwen2.5-1.5B shape (NF4 + LoRA r=16, G=8,
# 256-token prompt, 200-token completions) with the CUDA decoder, a progress line every 10 steps
# (step time, GPU memory by nvidia-smi, host RSS): memory must stay flat. ~2.1 s a step on an H200,
# so it fits one 600 s call. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
timeout 560 .gpu/${BIN:-grpo-cuda} bench grpo --model $CK/qwen2.5-1.5b --steps ${STEPS:-200} --every 10 2>&1 \
  | grep --line-buffered -E '^\{|rror|panic' | tee "$OUT/flat200.jsonl"
