#!/bin/bash
# Device call (issue 7 items 2 and 4): the GRPO step after the NF4 dequantization is tied to the
# layer input with a SchedulingBarrier (gomlxgrpo/model/nf4.go recomputedWeight; the
# OptimizationBarriers tie of round 14 was dropped by XLA): XLA's per-executable temporaries and
# the allocator's peak on the Llama-3.1-8B and Qwen2.5-1.5B shapes, the 1.5B peer beside them.
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
xla_mem() { grep -oE 'Temporary:[0-9.]+ [GMK]iB' "$OUT/$1.log" | head -8 | tr '\n' ' '; echo; }
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo-cuda-8b 150 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2; xla_mem grpo-cuda-8b
run_logged grpo-cuda-1.5b 60 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3; xla_mem grpo-cuda-1.5b
timeout $((235 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round15.jsonl"
echo "all done at ${SECONDS}s"
