#!/bin/bash
# Device call (ninth session; issue 7): GRPO steps with this session's decode defaults (split
# sampler, LoRA down-projections fused into the norms and the activation, several query heads per
# attention block where the step has the blocks for it) on the Qwen2.5-1.5B and Llama-3.1-8B shapes
# (NF4 + LoRA r=16, G=8, 256-token prompt, 200-token completions), each beside transformers + PEFT
# in the same call. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo-1.5b 170 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
timeout 100 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "peer 1.5b done at ${SECONDS}s"
run_logged grpo-8b 160 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 480 ] && timeout $((592 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
