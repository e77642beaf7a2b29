#!/bin/bash
# Device call after round 16 (sixth session; issues 4 item 6, 6 item 5, 7 items 1-2): the GRPO
# step after the backward pass's matmuls stopped upcasting bfloat16 operands to float32
# (model/halfdot.go: round 16's 1.5B peak held a float32 copy of the tied embedding, 890 MiB), on
# the Qwen2.5-1.5B (HLO liveness again) and Llama-3.1-8B shapes beside transformers + PEFT; the
# Llama-3.1-8B NF4 load's host memory after the loading change (the last figure issue 4 needs);
# batch-8 generation with and without the opt-in 16-warp attention (after its GPU test) beside the
# peer's generation. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" GOMLXGRPO_ATTN=w16 timeout 60 ../../.gpu/cuda.test -test.v -test.run 'AttentionDecode' 2>&1 | grep -E -- '^(---|ok|FAIL|PASS)|_test.go|panic' | head -8)
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged load-8b-nf4 90 "" grpo-cuda bench load --model $CK/llama3.1-8b --load-in-4bit --double-quant --lora-r 16
XLA_FLAGS="--xla_dump_to=/tmp/dump --xla_dump_hlo_as_text" run_logged grpo-cuda-1.5b 120 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3; xla_mem grpo-cuda-1.5b
f=$(ls -S /tmp/dump/*after_optimizations.txt 2>/dev/null | head -1)
[ -n "$f" ] && python3 scripts/hlo_liveness.py "$f" 12 | tee "$OUT/liveness-1.5b.txt"
timeout 80 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged grpo-cuda-8b 200 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2; xla_mem grpo-cuda-8b
timeout 120 python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged cuda-b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged cuda-b8-w16 60 "GOMLXGRPO_ATTN=w16" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round17.jsonl"
echo "all done at ${SECONDS}s"
