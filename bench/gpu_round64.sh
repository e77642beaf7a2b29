#!/bin/bash
# Device call (fourteenth session, H200): nf4_mma_s64 is now the only NF4 form for more than 8
# rows (n64, n64w and w64 removed; the flash attention removed after round 61). Its GPU tests by
# default (TestNF4GEMV, TestNF4GEMVGroup, TestDecoderMatchesGoMLX with its nine-row case), issue
# 6's generation figures (3B batch 64 against GOMLXGRPO_S64_BLOCKS=2, 1.5B batch 8 against
# GOMLXGRPO_PDL=1, each an A/B in one process) beside the peer's generate in the same call,
# then the Phi-4 GRPO step on this card (its peer does not fit this call: 20.34 s in an earlier
# session, H100). ~520 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestNF4GEMV$|TestNF4GEMVGroup|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$'
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b phi-4 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-S64-2 90 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=2 --repeat 3
run_logged b8-1.5b-PDL 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --ab GOMLXGRPO_PDL=1 --repeat 3
echo "generation done at ${SECONDS}s"
timeout 90 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
run_logged grpo-phi4 $((590 - SECONDS)) "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
echo "all done at ${SECONDS}s"
