#!/bin/bash
# Device call (written in the twelfth session after its device time ran out; not yet run): which of
# round 52's two opt-in kernels cost the batch-8 decode step its 2–4%: the one-pass fused norm
# (GOMLXGRPO_NORM=regs) and the SwiGLU + LoRA split over F (GOMLXGRPO_SWIGLU=split), each alone as
# an A/B in one process on the Phi-4, 8B and 1.5B shapes (~430 s; bench/gpu_round54.sh has the
# per-kernel times).
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 60 'TestResidualRMSNormLoRA|TestSwiGLULoRA'
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
for v in GOMLXGRPO_NORM=regs GOMLXGRPO_SWIGLU=split; do
  l=${v#GOMLXGRPO_}; l=${l//=/-}  # NORM-regs, SWIGLU-split (no "=" in file names)
  run_logged b8-1.5b-$l 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab $v --repeat 3
  run_logged b8-8b-$l 80 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab $v --repeat 3
  run_logged b8-phi4-$l 100 "" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab $v --repeat 3
done
echo "a/b done at ${SECONDS}s"
echo "all done at ${SECONDS}s"
