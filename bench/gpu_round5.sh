#!/bin/bash
# Device call (one H200/H100): CUDA kernel + decoder tests, generation with the CUDA decoder
# (grpo-cuda) and the GoMLX path (grpo) beside transformers' generate in the same call, then, in the
# time left, ncu's per-kernel split of the CUDA decoder's step. Build first: scripts/build_gpu_binaries.sh
set -u
GEN=0 TEST_S=${TEST_S:-220} bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
TESTS=0 bash bench/gpu_kernels.sh | grep '^{'
echo "generation done at ${SECONDS}s"
left=$((560 - SECONDS))
[ $left -gt 60 ] && GRAPHS=1 NCU_S=$((left - 30)) SKIP=2000 COUNT=800 bash bench/gpu_cuda_profile.sh | tail -25
