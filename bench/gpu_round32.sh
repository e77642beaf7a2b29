#!/bin/bash
# Device call (ninth session; issues 6 and 7), first of two: the new kernels' GPU tests (the norm
# and the activation with the LoRA down-projections fused; attention with 2, 3 or 4 query heads per
# block), BenchmarkAttentionDecode in every form, then in-process A/B timings (`bench generate --ab`:
# the same loaded model, runs alternating) of each new default against its off switch:
#   b8 with LoRA r=16 (a GRPO step's generation): GOMLXGRPO_LORA_FUSED=0, GOMLXGRPO_PDL=1
#   b64 3B: GOMLXGRPO_ATTN_HEADS=1 (the per-head kernels)
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestResidualRMSNormLoRA|TestSwiGLULoRA|TestAttentionDecode$|TestResidualRMSNorm$'
echo "tests done at ${SECONDS}s"
cuda_bench 90 'AttentionDecode'
echo "benchmarks done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-lora-fused 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_LORA_FUSED=0
run_logged b8-lora-pdl 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=1
run_logged b8-heads 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --ab GOMLXGRPO_ATTN_HEADS=2
run_logged b64-heads 150 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN_HEADS=1 --repeat 3
run_logged b8-8b-lora 150 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ATTN_HEADS=1 --repeat 3
echo "all done at ${SECONDS}s"
