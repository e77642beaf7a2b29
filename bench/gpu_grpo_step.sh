#!/bin/bash
# Device call: full GRPO steps (G=8, 256-token prompt, 200-token completions, LoRA r=16 on the 7
# projections, beta 0.04) with gomlxgrpo (NF4 base) beside transformers + PEFT (bf16, the peer
# ../shared/bench/hf_grpo_step.py, copied to bench/), same card, same call.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK 2>&1 | grep '^{' | grep make
{
for s in qwen2.5-1.5b llama3.1-8b; do
  .gpu/grpo bench grpo --model $CK/$s --steps 3 2>&1 | grep '^{'
done
python3 bench/hf_grpo_step.py grpo 2>&1 | grep '^{'
} | tee "$OUT/grpo_step.jsonl"
