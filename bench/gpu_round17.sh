#!/bin/bash
# Device call after round 16 (written in the fifth session, not yet run; issues 4 item 6 and 7 items
# 1 and 2): the Llama-3.1-8B NF4 load's host memory after the loading change (the last figure issue 4
# needs), generation at batch 8 with the opt-in 16-warp attention (GOMLXGRPO_ATTN=w16, after its
# GPU test) beside the default and the peer's generation, then the Phi-4-shape GRPO step with both
# memory changes (its gradient executable had 29.7 GiB of temporaries in round 14), this time with
# transformers + PEFT in the same call (round 14's Phi-4 row had no peer beside it). Ours took ~190 s in round 14 (checkpoint 46 s, load 38 s, compilation).
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" GOMLXGRPO_ATTN=w16 timeout 60 ../../.gpu/cuda.test -test.v -test.run 'AttentionDecode' 2>&1 | grep -E -- '^(---|ok|FAIL|PASS)|_test.go|panic' | head -8)
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged cuda-b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged cuda-b8-w16 60 "GOMLXGRPO_ATTN=w16" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
timeout 90 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
run_logged load-8b-nf4 90 "" grpo-cuda bench load --model $CK/llama3.1-8b --load-in-4bit --double-quant --lora-r 16
run_logged grpo-cuda-phi4 300 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/phi-4 --steps 2
xla_mem grpo-cuda-phi4
timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:phi-4 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round17.jsonl"
echo "all done at ${SECONDS}s"
