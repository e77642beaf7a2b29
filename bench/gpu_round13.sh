#!/bin/bash
# Next device call (written in the fourth session, not yet run): the two opt-in kernels on the GPU
# — the wide 64-row NF4 form (nf4_mma_w64, GOMLXGRPO_MMA64=wide) and the attention kernel with one
# block per kv head (attention_decode_gqa_bf16, GOMLXGRPO_ATTN=gqa). Tests with both on
# (TestNF4GEMV and TestAttentionDecode run every form; the decoder test then decodes on the new
# ones), the NF4 benchmarks and the card's copy bandwidth, generation at batch 64 and 8 with and
# without them and the per-kernel profile, beside transformers' generate. Each one that wins becomes
# the default (gomlxgrpo/cuda/matmul.go wide64, decode.go gqaAttention). Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
GOMLXGRPO_MMA64=wide GOMLXGRPO_ATTN=gqa RUN='NF4GEMV|Attention|Decoder' BENCH='NF4|Copy' GEN=0 TEST_S=${TEST_S:-240} bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b; L3=$CK/llama3.2-3b
{
timeout 100 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
run_logged cuda-b64 90 "" grpo-cuda bench generate --model $L3 --batch 64 --load-in-4bit
run_logged cuda-b64-wide 90 "GOMLXGRPO_MMA64=wide" grpo-cuda bench generate --model $L3 --batch 64 --load-in-4bit
run_logged cuda-b64-wide-gqa 90 "GOMLXGRPO_MMA64=wide GOMLXGRPO_ATTN=gqa" grpo-cuda bench generate --model $L3 --batch 64 --load-in-4bit
run_logged cuda-b8 90 "" grpo-cuda bench generate --model $Q --load-in-4bit
run_logged cuda-b8-gqa 90 "GOMLXGRPO_ATTN=gqa" grpo-cuda bench generate --model $Q --load-in-4bit
run_logged profile-b64-new 90 "GOMLXGRPO_MMA64=wide GOMLXGRPO_ATTN=gqa GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --model $L3 --batch 64 --load-in-4bit
grep "cuda profile" "$OUT/profile-b64-new.log" | tail -12
} | tee "$OUT/round13.jsonl"
echo "all done at ${SECONDS}s"
