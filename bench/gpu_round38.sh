#!/bin/bash
# Device call (ninth session; issue 7): the warp-tile batch-8 NF4 form's split-K sizing on the
# Llama-3.1-8B shape (LoRA r=16), in-process A/B against the default 8 chunks per warp:
# GOMLXGRPO_N8W_CHUNKS=4 and 16; and the Phi-4 shape with every matmul in the streaming form
# (GOMLXGRPO_MMA8=streaming) against the default. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged 8b-chunks4 120 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_N8W_CHUNKS=4 --repeat 3
run_logged 8b-chunks16 120 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_N8W_CHUNKS=16 --repeat 3
run_logged phi4-streaming 150 "" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab GOMLXGRPO_MMA8=streaming --repeat 3
echo "all done at ${SECONDS}s"
