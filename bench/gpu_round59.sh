#!/bin/bash
# Device call (written in the thirteenth session after its device time ran out; not yet run): the
# one-launch flash attention (attention_decode_flash_q<QH>, opt-in GOMLXGRPO_ATTN=flash: blocks over
# (row, query heads of one kv head, slice of positions), about two per SM, the slices combined by
# the last block). Its GPU tests (TestAttentionDecode's flash form, TestDecoderMatchesGoMLX case 5
# on two tiny checkpoints), the layer benchmark (raw, no PJRT), then A/Bs in one process of the
# batch-8 decode steps (1.5B, 8B, Phi-4; 2×3 timed generations, medians). ~420 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestAttentionDecode|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
cuda_bench 60 'AttentionDecode' GOMLXGRPO_CUDA_RAW=1
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b-flash 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_ATTN=flash --repeat 3
run_logged b8-8b-flash 80 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ATTN=flash --repeat 3
[ $SECONDS -lt 470 ] && run_logged b8-phi4-flash $((580 - SECONDS)) "" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab GOMLXGRPO_ATTN=flash --repeat 3
echo "all done at ${SECONDS}s"
