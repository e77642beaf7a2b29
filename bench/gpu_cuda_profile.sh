#!/bin/bash
# Device call: where the CUDA decoder's step time goes. Generation at batch 8 on the Qwen2.5-1.5B
# shape (bf16 and NF4) with the captured graph, then again with GOMLXGRPO_CUDA_PROFILE=1: every
# launch timed by CUDA events, summed per kernel, printed when the decoder closes (ncu crashed under
# PJRT here). Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; [ -d $CK/qwen2.5-1.5b ] || python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b
for q in "" --load-in-4bit; do
  timeout 100 .gpu/grpo-cuda bench generate --model $Q $q 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -3
  # The benchmark generates twice (warm-up, timed): the second report is the timed run.
  GOMLXGRPO_CUDA_PROFILE=1 timeout 150 .gpu/grpo-cuda bench generate --model $Q $q 2>&1 \
    | grep --line-buffered -E '^\{|cuda profile|rror|panic' | sed "s/^{/{\"profiled\":true,/"
done | tee "$OUT/cuda_profile.txt"
