#!/bin/bash
# Device call (ninth session; issue 7): the Llama-3.1-8B and Phi-4-shape GRPO steps with the
# batch-8 warp-tile NF4 form now the default for matrices of ≥ 4096 inputs and outputs (round 36),
# the 8B step beside transformers + PEFT in the same call. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 60 'TestNF4GEMVGroup'
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-8b 160 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 --every 1
echo "8b done at ${SECONDS}s"
run_logged grpo-phi4 190 "" grpo-cuda bench grpo --model $CK/phi-4 --steps 2 --every 1
echo "phi-4 done at ${SECONDS}s"
[ $SECONDS -lt 470 ] && timeout $((592 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
