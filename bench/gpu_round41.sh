#!/bin/bash
# Device call (tenth session): nf4_mma_n8w / n8gw with warps taking tiles from a counter as they
# finish (resident blocks, loads running on into the next tile) against one tile per warp
# (GOMLXGRPO_N8W_ONE=1, the previous launch): GPU tests, one layer's projections (8B, Phi-4,
# 1.5B shapes), then the 8B batch-8 generation A/B in one process. Build first:
# scripts/build_gpu_binaries.sh. Ran once (round 41) on commit 328ec51, whose kernel was then reverted:
# slower (bench/RESULTS.md, tenth session).
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestNF4GEMV$|TestNF4GEMVGroup'
echo "tests done at ${SECONDS}s"
(cd gomlxgrpo/cuda
for l in llama8b-b8 phi4-b8; do
  for one in 0 1; do
    GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=$l GOMLXGRPO_N8W_ONE=$one timeout 90 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic' | sed "s/^/one=$one /"
  done
done)
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-8b-one 200 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_N8W_ONE=1 --repeat 3
echo "all done at ${SECONDS}s"
