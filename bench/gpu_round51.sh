#!/bin/bash
# Device call (twelfth session; issue 7): the GRPO steps with round 49's kernels (split-K finish,
# release/acquire split counter; the L2 prefetch removed), 8B beside transformers + PEFT in the same
# call, then Phi-4. GPU tests of the matmuls first. --steps 3: the last step's figures (the first
# compiles). Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 60 'TestNF4GEMV$|TestNF4GEMVGroup'
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-8b 170 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
timeout 200 python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
[ $SECONDS -lt 420 ] && run_logged grpo-phi4 $((590 - SECONDS)) "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
echo "all done at ${SECONDS}s"
