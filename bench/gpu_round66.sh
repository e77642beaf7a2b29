#!/bin/bash
# Device call (fourteenth session, H200, the last of its device time; the kernel it timed lost and
# was not kept: GOMLXGRPO_S64_WARPS no longer exists): nf4_mma_s64k2 (two groups
# of 4 warps over the block's chunks, opt-in GOMLXGRPO_S64_WARPS=8), written after round 65's
# Nsight Compute found the 4-warp form at 8 active warps per SM. Its GPU tests, one 3B layer at 64
# rows with each form (raw, no PJRT), and the 3B batch-64 generation A/B in one process. ~150 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 80 'TestNF4GEMV$|TestNF4GEMVGroup'
echo "tests done at ${SECONDS}s"
layer_bench s64-4 llama3b-b64 'NF4Projections/llama3b-b64/'
layer_bench s64-8 llama3b-b64 'NF4Projections/llama3b-b64/' GOMLXGRPO_S64_WARPS=8
python3 bench/hf_foundation.py make $CK llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-S64-WARPS-8 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_WARPS=8 --repeat 3
echo "all done at ${SECONDS}s"
