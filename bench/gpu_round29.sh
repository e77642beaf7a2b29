#!/bin/bash
# Device call (eighth session; issue 7): the Llama-3.1-8B and Phi-4-shape GRPO steps (NF4 + LoRA
# r=16, G=8, 256-token prompt, 200-token completions) after this session's decode changes, beside
# transformers + PEFT in the same call. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-8b 150 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 --every 1
echo "8b done at ${SECONDS}s"
run_logged grpo-phi4 190 "" grpo-cuda bench grpo --model $CK/phi-4 --steps 2 --every 1
echo "phi-4 done at ${SECONDS}s"
[ $SECONDS -lt 470 ] && timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
