#!/bin/bash
# Device call (eleventh session; issue 7): the final kernels of this session (cp.async staging in the
# warp-tile batch-8 NF4 forms only, no L1 prefetch; round 46) on the GPU tests, then the 8B and
# Phi-4 GRPO steps, the 8B one beside transformers + PEFT in the same call. --steps 3: the last
# step's figures (the first compiles). Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 90 'TestNF4GEMV$|TestNF4GEMVGroup'
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-8b 170 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
timeout 200 python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
[ $SECONDS -lt 420 ] && run_logged grpo-phi4 $((590 - SECONDS)) "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
echo "all done at ${SECONDS}s"
