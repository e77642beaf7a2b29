#!/bin/bash
# Device call (twelfth session; issue 7): the one-pass fused norm (residual_rmsnorm_lora_bf16_e<E>)
# and the SwiGLU + LoRA split over F (swiglu_lora_split_bf16), both new defaults, against the
# previous kernels (GOMLXGRPO_NORM=chunked, GOMLXGRPO_SWIGLU=rows) as A/Bs in one process on the
# Phi-4 and 8B batch-8 decode shapes; their GPU tests and the decoder against the GoMLX path on
# two tiny checkpoints first; then the Phi-4 GRPO step if there is time, and the split attention
# (GOMLXGRPO_ATTN=split, slower on the 1.5B shape in the seventh session) on the 8B shape.
# Ran (bench/runs/2026-11-28n-round52): both slower together, so both are opt-in since
# (GOMLXGRPO_NORM=regs, GOMLXGRPO_SWIGLU=split) and this script's OLD names no longer apply;
# bench/gpu_round53.sh times each alone.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestResidualRMSNormLoRA|TestSwiGLULoRA|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
OLD="GOMLXGRPO_NORM=chunked,GOMLXGRPO_SWIGLU=rows"
run_logged b8-phi4-ab 100 "" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab $OLD --repeat 3
run_logged b8-8b-ab 80 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab $OLD --repeat 3
echo "a/b done at ${SECONDS}s"
[ $SECONDS -lt 320 ] && run_logged grpo-phi4 $((530 - SECONDS)) "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
[ $SECONDS -lt 470 ] && run_logged b8-8b-attn-split $((540 - SECONDS)) "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ATTN=split --repeat 3
echo "all done at ${SECONDS}s"
