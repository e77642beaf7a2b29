#!/bin/bash
# Device call (issues 4 item 6 and 7 item 2, card-level memory): the same GRPO step (Qwen2.5-1.5B
# shape, NF4 + LoRA, CUDA decoder) and the Llama-3.1-8B NF4 load under each of XLA's CUDA allocators.
# nvidia-smi counts XLA's BFC pool, which grows past the live buffers (8.52 GiB on the card for 5.47
# GiB of 8B buffers); "cuda_async" slowed the GoMLX decode path by 25%, which matters less now that
# decoding runs on the CUDA kernels; "platform" does not pool at all. Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
for a in bfc cuda_async platform; do
  GOMLX_BACKEND="xla:$PLUGIN,allocator=$a" timeout 120 .gpu/grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 2>&1 \
    | grep --line-buffered -E '^\{|rror' | head -2 | sed "s/^{/{\"allocator\":\"$a\",/"
  GOMLX_BACKEND="xla:$PLUGIN,allocator=$a" timeout 150 .gpu/grpo-cuda bench load --model $CK/llama3.1-8b --load-in-4bit --double-quant --lora-r 16 2>&1 \
    | grep --line-buffered -E '^\{|rror' | head -2 | sed "s/^{/{\"allocator\":\"$a\",/"
done | tee "$OUT/allocators.jsonl"
