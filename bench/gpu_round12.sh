#!/bin/bash
# Device call (fourth session, last of its budget): the Llama-3.1-8B-shape GRPO step with the CUDA
# decoder (NF4 + LoRA r=16, G=8, 256-token prompt, 200-token completions; the second step
# reported) beside transformers + PEFT. gpu_round11.sh gave it 170 s, which loading (~80 s) and
# XLA's compilations (~100 s) used up. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
{
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
GOMLXGRPO_XLA_LOG=1 timeout 330 .gpu/grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 > "$OUT/grpo-cuda-8b.log" 2>&1; echo "rc=$?" >> "$OUT/grpo-cuda-8b.log"
grep -E '^\{' "$OUT/grpo-cuda-8b.log" | sed 's/^{/{"run":"grpo-cuda-8b",/'; grep -iE 'panic|rc=[1-9]' "$OUT/grpo-cuda-8b.log" | head -3
echo "ours done at ${SECONDS}s"
timeout $((470 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round12.jsonl"
echo "all done at ${SECONDS}s"
