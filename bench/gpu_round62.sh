#!/bin/bash
# Device call (fourteenth session, H200): the staged 64-row NF4 matmul (nf4_mma_s64, s64g for the
# grouped q/k/v and gate/up; opt-in GOMLXGRPO_MMA64=staged). Its GPU tests (TestNF4GEMV's staged
# forms, TestNF4GEMVGroup's 64-row groups, TestDecoderMatchesGoMLX case 6: nine rows), one
# Llama-3.2-3B layer's 7 projections at 64 rows in every form and the staged form's blocks-per-SM
# sweep (raw, no PJRT), the 3B batch-64 generation A/B in one process (issue 6), then the 1.5B
# GRPO step on this card beside the peer's. ~500 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 200 'TestNF4GEMV$|TestNF4GEMVGroup|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
layer_bench forms llama3b-b64 'NF4Projections/llama3b-b64/'
for n in 2 8; do layer_bench s64-blocks-$n llama3b-b64 'NF4Projections/llama3b-b64/staged-lora16' GOMLXGRPO_S64_BLOCKS=$n; done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-staged 100 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_MMA64=staged --repeat 3
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
[ $SECONDS -lt 480 ] && timeout $((585 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
