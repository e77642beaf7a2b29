#!/bin/bash
# Device call (written in the twenty-first session, which had no device; not yet run): the _rope
# attention forms (kernels/attention_decode.cu, opt-in GOMLXGRPO_ROPE_ATTN=1): RoPE and the new
# position's K/V cache write done by the attention's blocks, so rope_cache_bf16's launch (one per
# layer, ~5 µs each in round 71's per-kernel profile of the 1.5B batch-8 step) goes away; with
# GOMLXGRPO_ATTN_LORA=1 as well they compute the o projection's LoRA down-projection too, so the
# lora_down launch (another ~5 µs per layer) goes away. Then
# programmatic dependent launch once more (GOMLXGRPO_PDL=1; it last lost in round 50, 2.99 vs
# 2.79 ms, and the kernels have changed since).
# Steps:
#   (1) GPU tests: TestAttentionDecodeRope (the _rope forms' q, caches and output bit for bit
#       against RopeCache + AttentionDecode on the benchmark shapes' batches, the LoRA
#       down-projection against LoRADown's), TestRopeCache. The decoder test's cases 7 and 8
#       (the _rope forms, without and with the LoRA part) run in bench/gpu_round90.sh.
#   (2) A/B in one process against the default (a): b = GOMLXGRPO_ROPE_ATTN=1, then b = that and
#       GOMLXGRPO_ATTN_LORA=1, on the 1.5B and 8B batch-8 LoRA steps; b = GOMLXGRPO_ROPE_ATTN=1 on
#       the 3B batch-64 step (no adapters); then 1.5B batch-8 LoRA with b: GOMLXGRPO_PDL=1 if time
#       is left.
# ~450 s: run with timeout_s 600. Build: scripts/build_gpu_binaries.sh, then keep only
# .gpu/grpo-cuda.gz and .gpu/cuda.test.gz. If the _rope forms win on the batch-8 shapes, make them
# the default (decode.go RopeInAttention, LoRAInAttention: =0 to turn them off) and time the
# GRPO steps (bench/gpu_round90.sh's and gpu_round91.sh's last steps) with them.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 60 'TestAttentionDecodeRope|TestRopeCache' rope
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b-rope 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_ROPE_ATTN=1 --repeat 5
run_logged b8-1.5b-ropelora 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_ROPE_ATTN=1,GOMLXGRPO_ATTN_LORA=1 --repeat 5
run_logged b8-8b-rope 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ROPE_ATTN=1 --repeat 3
run_logged b8-8b-ropelora 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ROPE_ATTN=1,GOMLXGRPO_ATTN_LORA=1 --repeat 3
run_logged b64-3b-rope 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ROPE_ATTN=1 --repeat 3
[ $SECONDS -lt 500 ] && run_logged b8-1.5b-pdl 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=1 --repeat 5
echo "all done at ${SECONDS}s"
pack_out
