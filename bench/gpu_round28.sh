#!/bin/bash
# Device call (eighth session; issues 6 and 7): the new defaults (streaming NF4 form sized for 1
# block per SM, so the 1.5B shape's small matrices go unsplit; the 64-row form unsplit) and the
# opt-in nf4_mma_n64w (one 16-row tile per warp, the block's warps sharing x through L1) tested and
# timed, then generation at batch 8 and 64 and the 1.5B GRPO step beside transformers + PEFT in
# the same call. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 60 'NF4GEMV'
echo "tests done at ${SECONDS}s"
cd gomlxgrpo/cuda
for v in "" GOMLXGRPO_MMA_SPLITS=1 GOMLXGRPO_MMA_SPLITS=2 GOMLXGRPO_MMA_SPLITS=8; do
  env $v GOMLXGRPO_CUDA_RAW=1 timeout 60 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic' | sed "s/^/[$v] /"
done
cd ../..
echo "projections done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64 80 "" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged b64-warps 80 "GOMLXGRPO_MMA64=warps" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 120 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "grpo done at ${SECONDS}s"
[ $SECONDS -lt 450 ] && timeout 75 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 500 ] && timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
