#!/bin/bash
# Device call (eighteenth session, the last ~270 s of its device time): shared prompts in the
# decode attention (kernels/attention_decode.cu src_row/prefix: the G rows of a prompt read its
# cache entries from the prompt's first row, one copy from memory instead of G; sample.PromptSharer).
#   (1) TestAttentionDecodeSharedPrompts: every form, bits with and without sharing, and NaN in
#       the copies' prompt entries must not be read.
#   (2) A/B in one process (a: sharing, the default; b: GOMLXGRPO_ATTN_SHARE=0): 3B NF4 batch 64
#       (8 prompts × 8 completions, `--num-generations 8`, the default) and 1.5B batch-8 LoRA
#       (1 prompt × 8).
#   (3) The decoder test's Llama-3 and Qwen2 NF4 cases (rows sharing prompts), if time is left.
# ~150 s: run with timeout_s 190. Build: grpo-cuda and cuda.test of the working tree, gzipped.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 45 'TestAttentionDecodeSharedPrompts' shared
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-share 50 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ATTN_SHARE=0 --repeat 3
run_logged b8-1.5b-lora-share 40 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_ATTN_SHARE=0 --repeat 3
echo "steps done at ${SECONDS}s"
[ $SECONDS -lt 100 ] && cuda_tests 65 'TestDecoderMatchesGoMLX/(llama3_gqa_rope_scaled|qwen2_gqa_tied_bias)/nf4$' decoder
echo "all done at ${SECONDS}s"
pack_out
