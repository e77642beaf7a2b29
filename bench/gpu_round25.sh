#!/bin/bash
# Device call (written in the seventh session, not yet run; issues 6 and 7): the opt-in
# attention_decode_bf16_w16u16 (16 positions per warp in flight) tested and timed, then where the batch-8 and
# batch-64 decode steps spend their time now (per-kernel profile, CUDA events around each launch,
# graph off), and a sweep of the streaming NF4 form's split-K sizing (GOMLXGRPO_N8_BLOCKS: resident
# blocks per SM assumed, GOMLXGRPO_N8_CHUNKS: most chunks per warp) on the 7-projection layer
# benchmark and batch-8 generation, beside transformers' generation (run in the eighth session, with
# the default generation as the baseline and the peer before the sweep, which stops near the limit). Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 90 'AttentionDecode|NF4GEMV'
cuda_bench 60 'AttentionDecode'
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-w16u16 60 "GOMLXGRPO_ATTN=w16u16" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64 80 "" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
echo "generation done at ${SECONDS}s"
run_logged profile-b8 60 "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
grep "cuda profile" "$OUT/profile-b8.log" | tail -14
run_logged profile-b64 80 "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
grep "cuda profile" "$OUT/profile-b64.log" | tail -14
echo "profiles done at ${SECONDS}s"
timeout 120 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
for blocks in 3 8 5; do
  for chunks in 2 5; do
    [ $SECONDS -lt 540 ] || { echo "no time left for blocks=$blocks chunks=$chunks"; continue; }
    cuda_bench 30 'NF4Layer' GOMLXGRPO_N8_BLOCKS=$blocks GOMLXGRPO_N8_CHUNKS=$chunks | sed "s/^/blocks=$blocks chunks=$chunks /"
    [ $SECONDS -lt 550 ] && run_logged b8-n8-$blocks-$chunks 40 "GOMLXGRPO_N8_BLOCKS=$blocks GOMLXGRPO_N8_CHUNKS=$chunks" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
  done
done
echo "all done at ${SECONDS}s"
