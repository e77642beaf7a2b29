#!/bin/bash
# Device call (twentieth session): the two-K-group 64-row NF4 matmuls (nf4_mma_s64k2, s64gk2:
# 8 warps per block at the 4-warp form's grid and split-K; GOMLXGRPO_S64_K2=1) tested and A/B-timed
# on the 3B batch-64 step, and round 87's GRPO steps with the flat AdamW (gomlxgrpo/grpo/adamw.go),
# each beside the peer's in the same call.
#   (1) GPU tests with the k2 forms: TestNF4GEMV, TestNF4GEMVGroup (their 9-, 64- and 70-row cases).
#   (2) A/B in one process, 3B NF4 batch 64 (8 prompts × 8): GOMLXGRPO_S64_K2=1 against the default.
#   (3) 1.5B GRPO step and the peer's; 8B GRPO step and the peer's (round 87).
#   (4) With time left: the k2 forms at 1 block per SM (A: k2, B: k2 + GOMLXGRPO_S64_BLOCKS=1).
# ~525 s on an H100 (round 89): run with timeout_s 600. Build: scripts/build_gpu_binaries.sh, then keep only
# .gpu/grpo-cuda.gz and .gpu/cuda.test.gz (the transfer's 64 MiB).
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 100 'TestNF4GEMV' k2 GOMLXGRPO_S64_K2=1
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-k2 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_K2=1 --repeat 3
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
timeout 60 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "peer 1.5b done at ${SECONDS}s"
[ $SECONDS -lt 330 ] && run_logged grpo-8b $((480 - SECONDS)) "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 450 ] && timeout $((530 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "peer 8b done at ${SECONDS}s"
[ $SECONDS -lt 520 ] && run_logged b64-3b-k2-blocks 70 "GOMLXGRPO_S64_K2=1" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=1 --repeat 3
echo "all done at ${SECONDS}s"
pack_out
