#!/bin/bash
# Device call: generation throughput on the GoMLX path (Qwen2.5-1.5B shape, batch 8, 256-token
# prompt, 200 new tokens), bf16 vs NF4, greedy vs sampled, beside transformers' generate.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK 2>&1 | grep '^{' | grep make
{
for v in "" "--greedy" "--load-in-4bit" "--load-in-4bit --greedy"; do
  .gpu/grpo bench generate --model $CK/qwen2.5-1.5b $v 2>&1 | grep '^{'
done
.gpu/grpo bench generate --model $CK/qwen2.5-1.5b --batch 64 2>&1 | grep '^{'
python3 bench/hf_grpo_step.py gen 2>&1 | grep '^{' | head -3
} | tee "$OUT/generate.jsonl"
