#!/bin/bash
# Device call (written in the twentieth session after its device time ran out; not yet run):
#   (a) the decode step's copies through page-locked memory (gomlxgrpo/cuda/stepio.go), the
#       default since the twentieth session's one A/B (1.5B batch-8 LoRA 2.567 vs 2.630 ms);
#       GOMLXGRPO_STEP_IO=sync keeps the 7 synchronous copies around each graph launch;
#   (b) the 8-warp 64-row NF4 matmuls (nf4_mma_s64w8, s64gw8; opt-in GOMLXGRPO_S64_W8=1): 128
#       output rows per block share one staging of x, half the x traffic from L2, at 1 block per
#       SM (the same warps per SM and split-K as the 4-warp form at 2).
# Steps:
#   (1) GPU tests: TestDecoderMatchesGoMLX's NF4 cases of three architectures (case 6 runs the
#       synchronous copies and must decode what the captured graph decoded; the twentieth
#       session's 90 s cut this off after the Llama-3 case, which printed no failure), then
#       TestNF4GEMV and TestNF4GEMVGroup with GOMLXGRPO_S64_W8=1 (their 19- to 70-row cases).
#   (2) A/B in one process: 1.5B batch-8 LoRA (b: sync copies), 3B batch 64 (b: w8), 3B batch 64
#       (b: sync copies).
#   (3) The 1.5B GRPO step beside the peer's (the 8B one: bench/gpu_round91.sh).
# ~450 s: run with timeout_s 600. Build: scripts/build_gpu_binaries.sh, then keep only
# .gpu/grpo-cuda.gz and .gpu/cuda.test.gz (the transfer's 64 MiB). If w8 wins, make it the
# default (matmul.go s64Warps) and remove nf4_mma_s64/s64g; if it loses, revert it into a patch.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestDecoderMatchesGoMLX/(qwen2_gqa_tied_bias|llama3_gqa_rope_scaled|phi3_gqa_fused)/nf4$' io
cuda_tests 80 'TestNF4GEMV' w8 GOMLXGRPO_S64_W8=1
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b-io 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_STEP_IO=sync --repeat 5
run_logged b64-3b-w8 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_W8=1 --repeat 3
run_logged b64-3b-io 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_STEP_IO=sync --repeat 3
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 5 --every 1
echo "1.5b done at ${SECONDS}s"
[ $SECONDS -lt 530 ] && timeout $((595 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
