#!/bin/bash
# Device call: goldens on CUDA (new cache layout), generation beside transformers (Qwen2.5-1.5B
# b8/b64, Llama-3.2-3B b64), and GRPO steps (Qwen2.5-1.5B, Llama-3.1-8B) beside transformers + PEFT.
set -u
source "$(dirname "$0")/gpu_common.sh"
(cd gomlxgrpo/model && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" ../../.gpu/model.test -test.run 'Golden|Cache|Shared' 2>&1 | tail -3) | tee "$OUT/goldens.txt"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep '^{' | grep make
Q=$CK/qwen2.5-1.5b; L3=$CK/llama3.2-3b
{
.gpu/grpo bench generate --model $Q 2>&1 | grep '^{'
.gpu/grpo bench generate --model $Q --load-in-4bit 2>&1 | grep '^{'
.gpu/grpo bench generate --model $Q --batch 64 --load-in-4bit 2>&1 | grep '^{'
.gpu/grpo bench generate --model $L3 --batch 64 --load-in-4bit 2>&1 | grep '^{'
python3 bench/hf_grpo_step.py gen 2>&1 | grep '^{'
} | tee "$OUT/generate3.jsonl"
{
for s in qwen2.5-1.5b llama3.1-8b; do
  .gpu/grpo bench grpo --model $CK/$s --steps 3 2>&1 | grep '^{'
done
python3 bench/hf_grpo_step.py grpo 2>&1 | grep '^{'
} | tee "$OUT/grpo_step3.jsonl"
