#!/bin/bash
# Device call (nineteenth session): round 84 as the eighteenth session wrote it (the rows-per-block
# decode attention forms, GOMLXGRPO_ATTN_ROWS=1, tested and A/B-timed on the 3B batch-64 step; the
# shared prompts A/B again), on the card a first call now gets (an H100, the card issue 7's goals
# name), plus the Qwen2.5-1.5B and Llama-3.1-8B GRPO steps each beside the peer's in the same call.
#   (1) GPU tests: TestAttentionDecodeSharedPrompts (with the rows forms) and TestAttentionDecode.
#   (2) A/B in one process, 3B NF4 batch 64 (8 prompts × 8): GOMLXGRPO_ATTN_ROWS=1, then
#       GOMLXGRPO_ATTN_SHARE=0, against the default.
#   (3) 1.5B GRPO step and the peer's; the peer's generation; 8B GRPO step and the peer's.
# ~560 s: run with timeout_s 600. Build: scripts/build_gpu_binaries.sh, then keep only
# .gpu/grpo-cuda.gz and .gpu/cuda.test.gz (the transfer's 64 MiB).
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestAttentionDecodeSharedPrompts|TestAttentionDecode$' attn
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-rows 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN_ROWS=1 --repeat 3
run_logged b64-3b-share 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN_SHARE=0 --repeat 3
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
timeout 60 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "peer 1.5b done at ${SECONDS}s"
[ $SECONDS -lt 330 ] && timeout 70 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer generation done at ${SECONDS}s"
[ $SECONDS -lt 400 ] && run_logged grpo-8b $((560 - SECONDS)) "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 500 ] && timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
