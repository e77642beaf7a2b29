#!/bin/bash
# Short device call after choosing R per matrix (kernels/gemv.cuh) and the 23-bit uniforms: the
# kernel tests (not the 2-minute decoder test) and micro-benchmarks, then batch-8 generation with the
# CUDA decoder and the GoMLX path beside transformers' generate. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
RUN='TestDevicePtr|TestNF4|TestRMSNorm|TestRope|TestAttention|TestElementwise|TestGEMV|TestSample' GEN=0 TEST_S=60 bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b
{
for bin in grpo-cuda grpo; do
  for q in "" --load-in-4bit; do
    timeout 60 .gpu/$bin bench generate --model $Q $q 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -3 | sed "s/^{/{\"bin\":\"$bin\",/"
  done
done
timeout 80 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/generate_b8.jsonl"
echo "all done at ${SECONDS}s"
