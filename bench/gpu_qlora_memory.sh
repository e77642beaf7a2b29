#!/bin/bash
# Device call: GPU and host memory of a Llama-3.1-8B-shaped checkpoint loaded in NF4 with LoRA r=16
# on all 7 projections, beside transformers loading the same checkpoint in bf16.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK 2>&1 | grep '^{' | grep make
{
python3 bench/hf_foundation.py load $CK/llama3.1-8b 2>&1 | grep '^{' | grep load
.gpu/grpo bench load --model $CK/llama3.1-8b --load-in-4bit --lora-r 16 2>&1 | grep '^{'
.gpu/grpo bench load --model $CK/llama3.1-8b --load-in-4bit --double-quant --lora-r 16 2>&1 | grep '^{'
} | tee "$OUT/qlora_memory.jsonl"
