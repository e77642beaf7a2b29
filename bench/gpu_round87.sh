#!/bin/bash
# Device call (nineteenth session): the GRPO steps after the flat AdamW (gomlxgrpo/grpo/adamw.go:
# the gradient accumulator and both moments one buffer each instead of one per adapter matrix,
# round 86's per-buffer cost), each beside the peer in the same call, on the card issue 7 names.
# Before: round 85 (H100) 1.5B 0.65 s (optimizer 0.020 s, backward 0.086 s), 8B 1.51 s (0.029,
# 0.234); round 86 1.5B 0.69 s (0.036, 0.103). ~290 s: run with timeout_s 310.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
run_logged grpo-8b 150 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
timeout 60 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 240 ] && timeout $((295 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
