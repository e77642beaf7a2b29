#!/bin/bash
# Device call (thirteenth session; issue 7): GRPO steps with shared_prompt on the Phi-4 and
# Qwen2.5-1.5B shapes (round 55 had the 8B one; its --then-rows comparison ran past its time),
# transformers + PEFT on the 1.5B shape in the same call. --steps 3: the last step's figures.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-phi4 240 "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
echo "phi4 done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
[ $SECONDS -lt 480 ] && timeout $((580 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
# Round 53's question on the shape closest to its goal: the reworked split SwiGLU alone (A/B in
# one process, 2×3 timed generations, medians).
[ $SECONDS -lt 470 ] && run_logged b8-phi4-SWIGLU-split $((585 - SECONDS)) "" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab GOMLXGRPO_SWIGLU=split --repeat 3
echo "all done at ${SECONDS}s"
