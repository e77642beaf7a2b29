#!/bin/bash
# Device call after round 17 (sixth session; issue 7 items 1-2): the Phi-4-shape GRPO step with the
# fifth and sixth sessions' memory changes (its gradient executable had 29.7 GiB of temporaries in
# round 14), with transformers + PEFT in the same call (round 14's Phi-4 row had no peer beside it).
# Ours took ~190 s in round 14 (checkpoint 46 s, load 38 s, compilation).
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
{
python3 bench/hf_foundation.py make $CK phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-cuda-phi4 300 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/phi-4 --steps 2
xla_mem grpo-cuda-phi4
timeout $((530 - SECONDS)) python3 bench/hf_grpo_step.py grpo:phi-4 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round18.jsonl"
echo "all done at ${SECONDS}s"
