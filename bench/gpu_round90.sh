#!/bin/bash
# Device call (written in the twentieth session after its device time ran out; not yet run): the
# decode step's copies through page-locked memory (gomlxgrpo/cuda/stepio.go, the default since
# the twentieth session's one A/B, 1.5B batch-8 LoRA 2.567 vs 2.630 ms; GOMLXGRPO_STEP_IO=sync
# keeps the 7 synchronous copies around each graph launch).
#   (1) GPU tests: TestDecoderMatchesGoMLX's NF4 cases of three architectures (case 6 runs the
#       synchronous copies and must decode what the captured graph decoded). The twentieth
#       session's 90 s cut this off after the Llama-3 case (no failure printed, no PASS line).
#   (2) A/B in one process (b: GOMLXGRPO_STEP_IO=sync): 1.5B batch-8 LoRA, 8B batch-8 LoRA, 3B
#       batch 64.
#   (3) The 1.5B and 8B GRPO steps, and the 1.5B peer.
# ~520 s: run with timeout_s 600. Build: scripts/build_gpu_binaries.sh, then keep only
# .gpu/grpo-cuda.gz and .gpu/cuda.test.gz (the transfer's 64 MiB).
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 200 'TestDecoderMatchesGoMLX/(qwen2_gqa_tied_bias|llama3_gqa_rope_scaled|phi3_gqa_fused)/nf4$' io
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b-io 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_STEP_IO=sync --repeat 5
run_logged b8-8b-io 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_STEP_IO=sync --repeat 3
run_logged b64-3b-io 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_STEP_IO=sync --repeat 3
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 5 --every 1
echo "1.5b done at ${SECONDS}s"
timeout 60 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "peer 1.5b done at ${SECONDS}s"
[ $SECONDS -lt 420 ] && run_logged grpo-8b $((590 - SECONDS)) "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 5 --every 1
echo "all done at ${SECONDS}s"
pack_out
