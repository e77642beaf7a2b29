#!/bin/bash
# Device call (seventh session; issue 7), after round 22 made the grouped NF4 launch the default:
# the GRPO steps on the Qwen2.5-1.5B and Llama-3.1-8B shapes and generation beside transformers +
# PEFT (round 22 ran out of time before them: its decoder test took 161 s). Each step writes to
# $OUT as it goes. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo-1.5b 120 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
run_logged grpo-8b 170 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 --every 1
echo "ours done at ${SECONDS}s"
timeout 70 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
timeout 100 python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 530 ] && timeout $((595 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
