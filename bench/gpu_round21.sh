#!/bin/bash
# Device call (seventh session; issues 6 and 7), after round 20 found the conflict-free NF4 table
# reading wrong entries on the GPU (the OR addressing assumed a 2048-byte-aligned shared array; the
# boundary is now found at run time) and after the split decode attention
# (attention_scores_split_bf16 + attention_out_split_bf16, the new default). Tests first, then the
# NF4 and attention micro-benchmarks and generation with the commit before this session's kernel
# changes ($OLD, .gpu/*-old: 256-entry table, 16-warp attention) and the new ones on the same card,
# the new kernels with the previous attention (GOMLXGRPO_ATTN=w16) and with grouped q/k/v and
# gate/up launches (GOMLXGRPO_MMA_GROUP=1), then the GRPO steps on the Qwen2.5-1.5B and Llama-3.1-8B shapes
# beside transformers + PEFT. Build: scripts/build_gpu_binaries.sh; OLD=8039d4e scripts/build_gpu_binaries.sh old
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 240 ../../.gpu/cuda.test -test.v -test.run 'NF4GEMV|AttentionDecode|DecoderMatchesGoMLX' 2>&1 | grep -E -- '^(---|ok|FAIL|PASS)|_test.go|panic' | head -16)
echo "tests done at ${SECONDS}s"
for bin in cuda-old.test cuda.test; do
  b='NF4GEMV/rows=8/mma|NF4GEMV/rows=64/mma|NF4Layer'; [ $bin = cuda.test ] && b="$b|AttentionDecode"
  (cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 120 ../../.gpu/$bin -test.run '^$' -test.bench "$b" -test.benchtime 200x 2>&1 | grep -E '^Benchmark' | sed "s/^/$bin /")
done
echo "benchmarks done at ${SECONDS}s"
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-old 60 "" grpo-cuda-old bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-new 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-new-w16 60 "GOMLXGRPO_ATTN=w16" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-new-group 60 "GOMLXGRPO_MMA_GROUP=1" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64-old 80 "" grpo-cuda-old bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged b64-new 80 "" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged grpo-1.5b 90 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3
run_logged grpo-8b 150 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2
echo "ours done at ${SECONDS}s"
timeout 70 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
timeout 100 python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
timeout $((595 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round21.jsonl"
echo "all done at ${SECONDS}s"
