#!/bin/bash
# Device call (twenty-third session; not yet run), after round 93 if GOMLXGRPO_DECODE_MLP=fused
# (or =mlp: MODE=mlp) won the 1.5B batch-8 decode A/B: the Qwen2.5-1.5B GRPO step (5 steps) with
# it and with the default, each in its own process, beside the peer's step. ~420 s (each process's
# first step compiles XLA's graphs): run with timeout_s 540.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
MODE=${MODE:-fused}
run_logged grpo-1.5b-$MODE 170 "GOMLXGRPO_DECODE_MLP=$MODE" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 5 --every 1
run_logged grpo-1.5b 170 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 5 --every 1
echo "steps done at ${SECONDS}s"
timeout $((530 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
