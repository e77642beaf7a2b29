#!/bin/bash
# Device call (one H200/H100), after the GEMV rewrite (R output rows per warp): CUDA kernel + decoder
# tests and micro-benchmarks; generation at batch 8 with the CUDA decoder (grpo-cuda) and the GoMLX
# path (grpo) beside transformers' generate; then, in the time left, one GRPO step on the
# Qwen2.5-1.5B shape with both binaries beside transformers + PEFT. Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
GEN=0 TEST_S=${TEST_S:-200} bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b
{
for bin in grpo-cuda grpo; do
  for q in "" --load-in-4bit; do
    timeout 100 .gpu/$bin bench generate --model $Q $q 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -3 | sed "s/^{/{\"bin\":\"$bin\",/"
  done
done
timeout 120 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/generate_b8.jsonl"
echo "generation done at ${SECONDS}s"
{
for bin in grpo-cuda grpo; do
  left=$((540 - SECONDS)); [ $left -gt 60 ] || break
  timeout $left .gpu/$bin bench grpo --model $Q --steps 3 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -3 | sed "s/^{/{\"bin\":\"$bin\",/"
done
left=$((585 - SECONDS)); [ $left -gt 40 ] && timeout $left python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/grpo_qwen.jsonl"
echo "all done at ${SECONDS}s"
