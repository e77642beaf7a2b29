#!/bin/bash
# Device call (seventh session; issues 6 and 7), after round 21: the grouped NF4 launch
# (nf4_mma_n8g) now takes each matrix as its 14 fields (gorgonia.org/cu copies 8 bytes per kernel
# argument: the struct by value arrived truncated, CUDA_ERROR_MISALIGNED_ADDRESS in round 21), the
# split attention is opt-in again (slower in round 21) and serves only caches longer than the
# one-launch forms take. Round 21 lost its test output (a `| tail` held it when the call timed
# out): every step here writes to $OUT as it goes. Tests, attention and NF4 micro-benchmarks,
# generation (default, grouped, split attention), the GRPO steps on the Qwen2.5-1.5B (default,
# grouped, split) and Llama-3.1-8B shapes beside transformers + PEFT.
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 200 ../../.gpu/cuda.test -test.v -test.run 'NF4GEMV|AttentionDecode|DecoderMatchesGoMLX' > "$OUT/tests.txt" 2>&1; echo "rc=$?" >> "$OUT/tests.txt")
grep -E -- '^(---|ok|FAIL|PASS|rc=)|_test.go|panic' "$OUT/tests.txt" | head -20
echo "tests done at ${SECONDS}s"
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 100 ../../.gpu/cuda.test -test.run '^$' -test.bench 'AttentionDecode|NF4Layer|NF4GEMV/rows=(8|64)/mma-' -test.benchtime 200x > "$OUT/bench.txt" 2>&1)
grep -E '^Benchmark' "$OUT/bench.txt"
echo "benchmarks done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-group 60 "GOMLXGRPO_MMA_GROUP=1" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64 80 "" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged grpo-1.5b 120 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
run_logged grpo-1.5b-group 120 "GOMLXGRPO_MMA_GROUP=1" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
run_logged grpo-1.5b-split 100 "GOMLXGRPO_ATTN=split" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 2 --every 1
run_logged grpo-8b 150 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 --every 1
echo "ours done at ${SECONDS}s"
timeout 70 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 480 ] && timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 540 ] && timeout $((595 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
