#!/bin/bash
# Device call (eighth session; issues 6 and 7): the split-K finish rewritten after ncu showed the
# 64-row NF4 form spending ~80% of its samples there (partials now lane-fastest: coalesced stores
# and L2 loads; the warps' shared-memory partials without bank conflicts), and w16u16 the default
# decode attention. Tests first (every matmul form, attention), then one layer's NF4 launches
# (BenchmarkNF4Projections) under split-K variants (GOMLXGRPO_N8_BLOCKS=1/2: no split for the
# small batch-8 matrices; GOMLXGRPO_MMA_SPLITS for the 64-row form), generation at batch 8 and 64
# with the best candidates, the 1.5B GRPO step, the peer's generation, and the decoder's greedy
# check on the tiny checkpoints with the time left. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'NF4GEMV|GEMVBF16|AttentionDecode|ResidualRMSNorm'
echo "tests done at ${SECONDS}s"
cd gomlxgrpo/cuda
for v in "" GOMLXGRPO_N8_BLOCKS=1 GOMLXGRPO_N8_BLOCKS=2 GOMLXGRPO_MMA_SPLITS=1 GOMLXGRPO_MMA_SPLITS=2 GOMLXGRPO_MMA_SPLITS=4; do
  env $v GOMLXGRPO_CUDA_RAW=1 timeout 60 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic' | sed "s/^/[$v] /"
done
cd ../..
echo "projections done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-blocks1 60 "GOMLXGRPO_N8_BLOCKS=1" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-blocks2 60 "GOMLXGRPO_N8_BLOCKS=2" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64 80 "" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged b64-splits1 80 "GOMLXGRPO_MMA_SPLITS=1" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged b64-splits2 80 "GOMLXGRPO_MMA_SPLITS=2" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 120 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "grpo done at ${SECONDS}s"
[ $SECONDS -lt 420 ] && timeout 90 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
[ $SECONDS -lt 450 ] && cuda_tests $((590 - SECONDS)) 'DecoderMatchesGoMLX'
echo "all done at ${SECONDS}s"
