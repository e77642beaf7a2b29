#!/bin/bash
# Device call (written at the end of the ninth session, not yet run): TestDecoderMatchesGoMLX with
# its new case 4 (the warp-tile NF4 form and several query heads per attention block forced on the
# tiny checkpoints, against the GoMLX path), then the 1.5B GRPO step beside the peer as a baseline
# for the next changes. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 120 'TestSampleMatchesGraph|TestResidualRMSNormLoRA|TestSwiGLULoRA|TestAttentionDecode$'
cuda_tests 400 'DecoderMatchesGoMLX'
echo "decoder test done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 440 ] && run_logged grpo-1.5b $((590 - SECONDS)) "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 2 --every 1
echo "all done at ${SECONDS}s"
