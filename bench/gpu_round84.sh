#!/bin/bash
# Device call (written in the eighteenth session after its device time ran out; not yet run): the
# opt-in decode attention forms with R rows of one prompt per block (attention_decode_bf16_hQHrRw8,
# GOMLXGRPO_ATTN_ROWS=1: a tile of the prompt read and multiplied once for R rows instead of once
# per row, from L2 after the first with the shared prompts of round 83), then the headline figures.
#   (1) GPU tests: TestAttentionDecodeSharedPrompts (now also the rows forms on three shapes) and
#       TestAttentionDecode.
#   (2) A/B in one process on the 3B NF4 batch-64 step (8 prompts × 8 completions):
#       b = GOMLXGRPO_ATTN_ROWS=1 against the default; then b = GOMLXGRPO_ATTN_SHARE=0 (round 83's
#       comparison again).
#   (3) If time allows, the per-kernel profile of that step with the rows forms.
#   (4) The peer's generation figures (hf_grpo_step.py gen), then the 8B GRPO step and the peer's.
# ~450 s: run with timeout_s 540. Build (only these in .gpu, with the tracked files under 64 MiB):
#   go build -ldflags="-s -w" -tags cuda -o .gpu/grpo-cuda ./cmd/grpo
#   go test -ldflags="-s -w" -tags cuda -c -o .gpu/cuda.test ./gomlxgrpo/cuda
#   gzip -9 .gpu/grpo-cuda .gpu/cuda.test   (CGO_CFLAGS/CGO_LDFLAGS as scripts/build_gpu_binaries.sh)
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestAttentionDecodeSharedPrompts|TestAttentionDecode$' attn
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-rows 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN_ROWS=1 --repeat 3
run_logged b64-3b-share 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN_SHARE=0 --repeat 3
# The per-kernel profile (kernels launched one by one: each figure carries a launch) with the rows
# forms, for the attention's µs per layer beside round 71's (40 µs per layer, h3w8, no sharing).
[ $SECONDS -lt 200 ] && run_logged profile-3b-b64-rows 60 "GOMLXGRPO_CUDA_PROFILE=1 GOMLXGRPO_ATTN_ROWS=1" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 &&
  grep 'cuda profile' "$OUT/profile-3b-b64-rows.log" | head -8
echo "generation done at ${SECONDS}s"
timeout 100 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer generation done at ${SECONDS}s"
run_logged grpo-8b 200 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 450 ] && timeout $((530 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
