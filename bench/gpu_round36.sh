#!/bin/bash
# Device call (ninth session; issues 6 and 7): the batch-8 NF4 matmul with a tile of 16 output rows
# per warp (nf4_mma_n8w / n8gw, GOMLXGRPO_MMA8=warps: one staging of x serves 64 output rows, a
# quarter of the streaming form's x reads from L2). Its GPU tests, BenchmarkNF4Layer both ways, then
# in-process A/B generation timings (`bench generate --ab`, LoRA r=16 as in a GRPO step) on the
# Qwen2.5-1.5B and Llama-3.1-8B shapes, and its split-K sizing (GOMLXGRPO_N8W_BLOCKS 4 vs 8).
# Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestNF4GEMV$|TestNF4GEMVGroup'
echo "tests done at ${SECONDS}s"
cuda_bench 60 'NF4Layer'
cuda_bench 60 'NF4Layer' GOMLXGRPO_MMA8=warps
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-warps 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_MMA8=warps
run_logged b8-8b-warps 150 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_MMA8=warps --repeat 3
run_logged b8-8b-warps-blocks 150 "GOMLXGRPO_MMA8=warps" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_N8W_BLOCKS=8 --repeat 3
echo "all done at ${SECONDS}s"
