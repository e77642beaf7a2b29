#!/bin/bash
# Device call (sixteenth session's last ~250 s of device time): issue 7's Llama-3.1-8B GRPO step
# with round 73's defaults, then the peer's in the same call if it still fits (~45 s). ~185 s.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo-8b 140 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 130 ] && timeout $((180 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
