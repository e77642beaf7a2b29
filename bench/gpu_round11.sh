#!/bin/bash
# Device call (fourth session; issue 7 item 1): GRPO steps on the Llama-3.1-8B and Phi-4 shapes
# with the CUDA decoder (NF4 + LoRA r=16 on the 7 projections, G=8, 256-token prompt, 200-token
# completions; the second step reported), each beside transformers + PEFT in the same call. Every
# run's full output is kept in $OUT/<label>.log; output is line-buffered so that a time-out keeps
# what finished. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
run() { # label, timeout, binary, args... (full output in $OUT/label.log)
  local label=$1 t=$2 bin=$3; shift 3
  GOMLXGRPO_XLA_LOG=1 timeout $t .gpu/$bin "$@" > "$OUT/$label.log" 2>&1; echo "rc=$?" >> "$OUT/$label.log"
  grep -E '^\{' "$OUT/$label.log" | sed "s/^{/{\"run\":\"$label\",/"
  grep -iE 'panic|rc=[1-9]' "$OUT/$label.log" | head -3
}
{
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
run grpo-cuda-8b 170 grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2
timeout 120 python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "8B done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK phi-4 2>&1 | grep --line-buffered '^{'
run grpo-cuda-phi4 200 grpo-cuda bench grpo --model $CK/phi-4 --steps 2
timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:phi-4 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round11.jsonl"
echo "all done at ${SECONDS}s"
