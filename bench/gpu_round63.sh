#!/bin/bash
# Device call (fourteenth session, H200): round 62 again with the staged kernels listed in
# kernels.All (round 62's tests and benchmarks of them failed at load: "not loaded"). The staged
# 64-row NF4 matmul's GPU tests, the 3B layer's forms and the staged form's blocks-per-SM sweep,
# the 3B batch-64 generation A/B (issue 6), then the 8B GRPO step beside the peer's. ~520 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestNF4GEMV$|TestNF4GEMVGroup|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
layer_bench forms llama3b-b64 'NF4Projections/llama3b-b64/(default|lora16|staged|staged-lora16)$'
for n in 2 8; do layer_bench s64-blocks-$n llama3b-b64 'NF4Projections/llama3b-b64/staged-lora16$' GOMLXGRPO_S64_BLOCKS=$n; done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-staged 100 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_MMA64=staged --repeat 3
echo "generation done at ${SECONDS}s"
run_logged grpo-8b $((560 - SECONDS - 75)) "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 510 ] && timeout $((588 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
