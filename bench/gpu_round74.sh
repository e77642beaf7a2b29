#!/bin/bash
# Device call (sixteenth session, after round 73 made the immediate NF4 table, the rolled 64-row
# LoRA epilogue and gemm_bf16_mma_s64 the defaults): issue 6's generation figures beside the
# peer's in the same call, issue 7's Qwen2.5-1.5B GRPO step beside the peer's, and two builds of
# the LM head's s64 form as PTX variants:
#   lmb3: bench/round74-lmhead-b3.patch: __launch_bounds__(128, 3): 168 registers, no spills
#         (the committed (128, 4): 128 registers, 44/72 bytes of spills).
#   lmd4: bench/round74-lmhead-d4.patch: 4 chunks of weights in flight per warp, (128, 2).
# Each 3B batch-64 process also times GOMLXGRPO_S64_BLOCKS=3 (b) against the default 2 (a): the
# NF4 split-K sizing was tuned (round 64) when the 64-row finish was ~4× longer in code.
# ~420 s. Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh lmb3 bench/round74-lmhead-b3.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh lmd4 bench/round74-lmhead-d4.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 100 'TestGEMVBF16AndLoRADown|TestDecoderMatchesGoMLX/llama3_gqa_rope_scaled/nf4$'
cuda_tests 30 'TestGEMVBF16AndLoRADown' lmb3 $(ptx_env lmb3)
cuda_tests 30 'TestGEMVBF16AndLoRADown' lmd4 $(ptx_env lmd4)
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 0 "lmb3 lmd4" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=3 --repeat 3
run_logged b8-1.5b 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --ab GOMLXGRPO_PDL=0 --repeat 3
run_logged b8-1.5b-lora 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=0 --repeat 3
echo "generation done at ${SECONDS}s"
timeout 90 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
[ $SECONDS -lt 480 ] && timeout $((540 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
