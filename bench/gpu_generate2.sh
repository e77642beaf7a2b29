#!/bin/bash
# Device call: generation with on-device sampling and shared prefill (Qwen2.5-1.5B batch 8 and 64,
# Llama-3.2-3B batch 64; 256-token prompt, 200 new tokens), beside transformers' generate in the
# same call; then the Llama-3.1-8B-shaped NF4 + LoRA load under XLA's default (BFC) and cuda_async allocators.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep '^{' | grep make
Q=$CK/qwen2.5-1.5b; L3=$CK/llama3.2-3b
{
.gpu/grpo bench generate --model $Q --cpuprofile $OUT/gen_b8.prof 2>&1 | grep '^{'
.gpu/grpo bench generate --model $Q --greedy 2>&1 | grep '^{'
.gpu/grpo bench generate --model $Q --top-p 0.95 2>&1 | grep '^{'
.gpu/grpo bench generate --model $Q --load-in-4bit 2>&1 | grep '^{'
.gpu/grpo bench generate --model $Q --batch 64 2>&1 | grep '^{'
.gpu/grpo bench generate --model $Q --batch 64 --load-in-4bit 2>&1 | grep '^{'
.gpu/grpo bench generate --model $L3 --batch 64 --load-in-4bit --cpuprofile $OUT/gen_3b.prof 2>&1 | grep '^{'
.gpu/grpo bench generate --model $L3 --batch 64 2>&1 | grep '^{'
GOMLX_BACKEND="xla:$PLUGIN,allocator=cuda_async" .gpu/grpo bench generate --model $Q --load-in-4bit 2>&1 | grep '^{' | sed 's/^{/{"allocator":"cuda_async",/'
python3 bench/hf_grpo_step.py gen 2>&1 | grep '^{'
} | tee "$OUT/generate2.jsonl"
