#!/bin/bash
# Device call (ninth session; issues 6 and 7), after round 32: the fused LoRA kernels rewritten with
# a chunk of loads in flight per thread (round 32's first version made the step 0.7 ms slower),
# the 8-warp forms of the several-heads attention (h2w8/h3w8/h4w8) for steps with more blocks than
# the card holds; their GPU tests, then in-process A/B timings (`bench generate --ab`):
#   1.5B b8 and 8B b8 with LoRA r=16: GOMLXGRPO_LORA_FUSED=0;  3B b64: GOMLXGRPO_ATTN_HEADS=1
# and the decoder's greedy check against the GoMLX path (every default on, PDL as a case).
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestResidualRMSNormLoRA|TestSwiGLULoRA|TestAttentionDecode$'
cp "$OUT/tests.txt" "$OUT/tests-kernels.txt"
echo "tests done at ${SECONDS}s"
cuda_bench 60 'AttentionDecode/llama3b'
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-lora-fused 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_LORA_FUSED=0
run_logged b64-heads 120 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN_HEADS=1 --repeat 3
run_logged b8-8b-lora-fused 120 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_LORA_FUSED=0 --repeat 3
echo "generation done at ${SECONDS}s"
cuda_tests $((590 - SECONDS)) 'DecoderMatchesGoMLX'
echo "all done at ${SECONDS}s"
