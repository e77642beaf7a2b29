#!/bin/bash
# Device call (ninth session; issues 6 and 7): programmatic dependent launch (PDL: each decode
# kernel starts while the previous one finishes, waiting with griddepcontrol.wait) tested and timed
# against GOMLXGRPO_PDL=0 on the same card, and round 30's split sampler (never run: its test,
# BenchmarkSample, batch-8 generation with and without it). Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 90 'SampleMatchesGraph|TestNF4GEMV$|TestNF4GEMVGroup|TestResidualRMSNorm|TestAttentionDecode$|TestGEMVBF16AndLoRADown'
echo "tests done at ${SECONDS}s"
cuda_bench 60 'NF4Layer'
cuda_bench 60 'NF4Layer' GOMLXGRPO_PDL=0
cuda_bench 60 'Sample'
echo "benchmarks done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b8 60 "" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-nopdl 60 "GOMLXGRPO_PDL=0" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b8-rows 60 "GOMLXGRPO_SAMPLE=rows" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64 80 "" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged b64-nopdl 80 "GOMLXGRPO_PDL=0" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
echo "generation done at ${SECONDS}s"
[ $SECONDS -lt 480 ] && timeout $((585 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
