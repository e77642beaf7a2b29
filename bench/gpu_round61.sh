#!/bin/bash
# Device call (fourteenth session, the first on an H200: the H100 kind is no longer lent): round
# 59's plan on the new card. The one-launch flash attention's GPU tests (TestAttentionDecode's
# flash form, TestDecoderMatchesGoMLX case 5), the attention layer benchmark (raw, no PJRT, every
# form at the 1.5B batch-8 and 3B batch-64 shapes), then A/Bs of GOMLXGRPO_ATTN=flash in one process
# (2×3 timed generations, medians): 1.5B batch 8, 3B batch 64 (issue 6's shape), 8B batch 8. Then
# the peer's generation (transformers bf16) on the same card. ~500 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestAttentionDecode|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
cuda_bench 60 'AttentionDecode' GOMLXGRPO_CUDA_RAW=1
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b-flash 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_ATTN=flash --repeat 3
run_logged b64-3b-flash 100 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN=flash --repeat 3
run_logged b8-8b-flash 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ATTN=flash --repeat 3
echo "generation done at ${SECONDS}s"
[ $SECONDS -lt 470 ] && timeout $((585 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
