#!/bin/bash
# Device call (written in the fourteenth session after its device time ran out; not yet run):
# issue 6's batch-64 attention (~103 µs per 3B layer, 2.9 ms of the 8.1 ms step; round 65: 15.4
# active warps per SM, 43% compute, one instruction per 8.5 cycles per warp), two kernel builds
# against the committed ones as PTX variants (no committed code changes until timed):
#   bounds: bench/round67-attn-bounds.patch, the 8-warp several-heads kernels (_h2w8 … _h4w8)
#           with __launch_bounds__(256, 3): 80 registers instead of 95, 3 blocks per SM instead
#           of 2 (h3w8 does not spill; h4w8 spills 32 bytes).
#   amma:   bench/round67-attn-mma.patch, the attention scores on tensor cores for H = 64 and 128
#           (attn_scores_mma: per 16 positions, K·Qᵀ in H/16 mma steps instead of a 5-step
#           shuffle reduction per position and head), in the several-heads kernels (batch 64)
#           and the per-head ones (batch 8: one real head of the 8 an mma step takes). On the
#           emulator the several-heads kernels so built gave the committed per-head kernels' bits
#           on all 9 shapes tried; every form is within tolerance of the double reference.
# Their GPU tests (TestAttentionDecode and the decoder's greedy tokens against the GoMLX path),
# the attention layer benchmark (raw), then the 3B batch-64 decode step per build in separate
# processes (head, bounds, amma, head), and the 1.5B batch-8 LoRA step (head, amma). ~480 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh bounds bench/round67-attn-bounds.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh amma bench/round67-attn-mma.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 80 'TestAttentionDecode$' bounds $(ptx_env bounds)
cuda_tests 150 'TestAttentionDecode$|TestDecoderMatchesGoMLX/(phi3_gqa_fused|llama3_gqa_rope_scaled)/nf4$' amma $(ptx_env amma)
echo "tests done at ${SECONDS}s"
for v in head bounds amma; do
  (cd gomlxgrpo/cuda && env $(ptx_env $v) GOMLXGRPO_CUDA_RAW=1 timeout 60 ../../.gpu/cuda.test -test.run '^$' -test.bench 'AttentionDecode/(llama3b-b64/h3|qwen1.5b-b8/w16u16)$' -test.benchtime 200x 2>&1 |
    grep -E '^Benchmark|FAIL|panic' | sed "s/^/$v /")
done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.2-3b 2>&1 | grep --line-buffered '^{'
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 400 "bounds amma" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=2 --repeat 3
for v in head amma; do
  run_logged b8-1.5b-$v 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=0 --repeat 3
done
echo "all done at ${SECONDS}s"
