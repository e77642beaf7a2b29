#!/bin/bash
# Device call (thirteenth session): after removing the split SwiGLU, the GPU tests of the fused
# SwiGLU and norms and the CUDA decoder's greedy tokens against the GoMLX path on two tiny
# checkpoints; then the one-pass norm (GOMLXGRPO_NORM=regs) alone as an A/B in one process on the
# 8B and Phi-4 batch-8 decode steps (round 52 timed it only with the split SwiGLU).
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestResidualRMSNormLoRA|TestSwiGLULoRA|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged b8-8b-NORM-regs 100 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_NORM=regs --repeat 3
[ $SECONDS -lt 440 ] && run_logged b8-phi4-NORM-regs $((580 - SECONDS)) "" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab GOMLXGRPO_NORM=regs --repeat 3
echo "all done at ${SECONDS}s"
