#!/bin/bash
# Device call: GPU and host memory of a Llama-3.1-8B-shaped checkpoint loaded in NF4 with LoRA r=16
# on all 7 projections, beside transformers loading the same checkpoint in bf16.
set -u
for f in .gpu/*.gz; do [ -f "$f" ] && gunzip -f "$f"; done; chmod +x .gpu/* 2>/dev/null
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0
nvidia-smi --query-gpu=name --format=csv,noheader | tee "$OUT/card.txt"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK 2>&1 | grep '^{' | grep make
{
python3 bench/hf_foundation.py load $CK/llama3.1-8b 2>&1 | grep '^{' | grep load
.gpu/grpo bench load --model $CK/llama3.1-8b --load-in-4bit --lora-r 16 2>&1 | grep '^{'
.gpu/grpo bench load --model $CK/llama3.1-8b --load-in-4bit --double-quant --lora-r 16 2>&1 | grep '^{'
} | tee "$OUT/qlora_memory.jsonl"
