#!/bin/bash
# Next device call (written in the sixth session, not yet run; issues 6 and 7): the grouped NF4
# matmul launch (nf4_mma_n8g, opt-in GOMLXGRPO_MMA_GROUP=1: the decoder's q/k/v and gate/up
# matmuls one launch per group) — its GPU tests first, then batch-8 generation and the
# Qwen2.5-1.5B-shape GRPO step with and without it, beside transformers + PEFT. If it wins, make it
# the default (gomlxgrpo/cuda/nf4.go groupedMMA). Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 240 ../../.gpu/cuda.test -test.v -test.run 'NF4GEMVGroup|DecoderMatchesGoMLX' 2>&1 | grep -E -- '^(---|ok|FAIL|PASS)|_test.go|panic' | head -12)
echo "tests done at ${SECONDS}s"
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged cuda-b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged cuda-b8-group 60 "GOMLXGRPO_MMA_GROUP=1" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged grpo-1.5b 90 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3
run_logged grpo-1.5b-group 90 "GOMLXGRPO_MMA_GROUP=1" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3
timeout 80 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round19.jsonl"
echo "all done at ${SECONDS}s"
