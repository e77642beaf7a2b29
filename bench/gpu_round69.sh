#!/bin/bash
# Device call (fifteenth session): the new defaults (round 67's tensor-core attention scores and
# round 68's two-splits-at-a-time finish, both committed) under their GPU tests, the generation
# figures of issue 6 beside the peer's, the 8B GRPO step of issue 7 beside the peer's, and the 8B
# batch-8 decode step's per-kernel profile (GOMLXGRPO_CUDA_PROFILE=1: kernels launched one by one,
# CUDA events around each, so each figure carries a launch; round 54's first half). ~420 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestAttentionDecode$|TestNF4GEMV$|TestNF4GEMVGroup|TestGEMVBF16AndLoRADown|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=2 --repeat 3
run_logged b8-1.5b 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --ab GOMLXGRPO_PDL=0 --repeat 3
run_logged b8-1.5b-lora 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=0 --repeat 3
echo "generation done at ${SECONDS}s"
timeout 90 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
l=profile-8b
profile_step $l 60 16 bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --new 50
echo "profile done at ${SECONDS}s"
run_logged grpo-8b $((585 - SECONDS - 70)) "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 520 ] && timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
