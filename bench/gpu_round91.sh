#!/bin/bash
# Device call (written in the twentieth session; not yet run): the Llama-3.1-8B GRPO step with the
# pinned step copies (gomlxgrpo/cuda/stepio.go), 7 steps, beside the peer's, and the 8B batch-8
# LoRA decode A/B (b: GOMLXGRPO_STEP_IO=sync). Round 89 / the twentieth session's 7-step run: 1.49
# s median over steps 3–7 (1.49–1.52) against the 1.5 s goal. ~330 s: run with timeout_s 420.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-8b-io 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_STEP_IO=sync --repeat 3
run_logged grpo-8b 200 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 7 --every 1
echo "8b done at ${SECONDS}s"
timeout $((410 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
