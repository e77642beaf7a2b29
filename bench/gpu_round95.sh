#!/bin/bash
# Device call (twenty-third session; not yet run), after round 93 if a GOMLXGRPO_DECODE_MLP mode
# (MODE=mlp|fused|fused+o, default fused) won the 1.5B batch-8 decode A/B: the Llama-3.1-8B shape
# (D = 4,096: DecodeMLP's staged rows take 64 KiB of shared memory, above the default 48) with it,
# first the batch-8 LoRA decode step A/B in one process, then the 8B GRPO step (7 steps) with it,
# beside the peer's. ~400 s (the step's first iteration compiles XLA's graphs, ~120 s): run with
# timeout_s 480.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
MODE=${MODE:-fused}
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-8b-$MODE 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_DECODE_MLP=$MODE --repeat 3
run_logged grpo-8b-$MODE 200 "GOMLXGRPO_DECODE_MLP=$MODE" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 7 --every 1
echo "8b done at ${SECONDS}s"
timeout $((470 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
