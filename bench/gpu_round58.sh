#!/bin/bash
# Device call (thirteenth session, the session's last device time): GRPO steps with the one-pass
# norm now the default (round 57) and shared_prompt, 8B first, then the GPU tests of the norm and
# the CUDA decoder's greedy tokens against the GoMLX path with that default, then the 1.5B step
# if time remains. --steps 3: the last step's figures.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged grpo-8b 240 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
cuda_tests 90 'TestResidualRMSNormLoRA|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
[ $SECONDS -lt 330 ] && run_logged grpo-1.5b $((440 - SECONDS)) "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "all done at ${SECONDS}s"
