#!/bin/bash
# Device call (ninth session; issue 7), same machine as round 34: the Phi-4-shape GRPO step with
# this session's defaults, then where the Llama-3.1-8B batch-8 decode step's time goes with LoRA
# r=16 (GOMLXGRPO_CUDA_PROFILE=1: kernels launched one by one, each timed with events).
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK phi-4 llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo-phi4 200 "" grpo-cuda bench grpo --model $CK/phi-4 --steps 2 --every 1
echo "phi-4 done at ${SECONDS}s"
run_logged profile-8b 120 "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --new 50
grep 'cuda profile' "$OUT/profile-8b.log" | head -30
echo "all done at ${SECONDS}s"
