#!/bin/bash
# Device call (nineteenth session, the last ~250 s of its device time; round 87 could not be
# started): the Qwen2.5-1.5B GRPO step after the flat AdamW (gomlxgrpo/grpo/adamw.go) beside the
# peer's in the same call. ~140 s: run with timeout_s 170.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged grpo-1.5b 110 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
timeout $((165 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
