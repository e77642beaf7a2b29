#!/bin/bash
# Device call (tenth session): the XLA autotune cache on the Llama-3.1-8B shape's first GRPO step,
# a fresh cache directory (cold: about the no-cache time, as round 43 found on the 1.5B shape) then
# a second process reading it (warm). Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo8b-cold 170 "GOMLXGRPO_XLA_CACHE=/tmp/xa" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 1 --every 1
run_logged grpo8b-warm 170 "GOMLXGRPO_XLA_CACHE=/tmp/xa" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 1 --every 1
du -sh /tmp/xa
echo "all done at ${SECONDS}s"
