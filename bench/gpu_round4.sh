#!/bin/bash
# Device call planned after bench/gpu_kernels.sh (both need scripts/build_gpu_binaries.sh first):
# GRPO steps on the Llama-3.1-8B and Phi-4 shapes with the GoMLX decoder (grpo) and the CUDA
# decoder (grpo-cuda), each shape's peer (transformers + PEFT) in the same call. Output is
# line-buffered so that a time-out keeps what finished. The 8B step logs XLA's per-executable
# device memory (GOMLXGRPO_XLA_LOG) to explain its peak.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
{
for s in llama3.1-8b phi-4; do
  GOMLXGRPO_XLA_LOG=1 .gpu/grpo-cuda bench grpo --model $CK/$s --steps 3 2> "$OUT/xla_mem_$s.log" | grep --line-buffered '^{' | sed 's/^{/{"bin":"grpo-cuda",/'
  .gpu/grpo bench grpo --model $CK/$s --steps 3 2>&1 | grep --line-buffered '^{' | sed 's/^{/{"bin":"grpo",/'
  python3 bench/hf_grpo_step.py grpo:$s 2>&1 | grep --line-buffered '^{'
done
} | tee "$OUT/grpo_round4.jsonl"
