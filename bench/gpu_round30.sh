#!/bin/bash
# Device call (written in the eighth session, not yet run; issues 6 and 7): the split sampler
# (sample_max_split + sample_draw_split, ~256 blocks instead of one per row, for draws without
# top-k/top-p) tested against SampleGraph and timed (BenchmarkSample, batch-8 generation with and
# without it: GOMLXGRPO_SAMPLE=rows), the 1.5B GRPO step beside the peer in the same call, then the
# decoder's greedy check with the time left. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 60 'SampleMatchesGraph'
cuda_bench 60 'Sample'
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-rows 60 "GOMLXGRPO_SAMPLE=rows" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64 80 "" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
echo "generation done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "grpo done at ${SECONDS}s"
[ $SECONDS -lt 330 ] && timeout 80 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 400 ] && timeout 90 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
[ $SECONDS -lt 340 ] && cuda_tests $((590 - SECONDS)) 'DecoderMatchesGoMLX'
echo "all done at ${SECONDS}s"
