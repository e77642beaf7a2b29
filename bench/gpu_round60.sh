#!/bin/bash
# Device call (written in the thirteenth session after its device time ran out; not yet run):
# (1) the Phi-4 GRPO step with the one-pass norm as default and the device-side prefill caches
# (round 58 re-measured 8B and 1.5B only); (2) the kernels' shared-helper refactors
# (bench/round60-helpers.patch: the general and one-pass norms share lora_rows, norm_emit and
# lora_store, the several-heads and flash attention kernels their weighted V pass; same arithmetic,
# but ptxas gives the timed default kernels other SASS) against the committed kernels, an A/B of PTX
# builds on the 8B decode step (its norms and attention_decode_bf16_h2). Keep the patch only if it is
# not slower. ~520 s. Build:
#   scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh helpers bench/round60-helpers.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 80 'TestResidualRMSNormLoRA|TestAttentionDecode' helpers $(ptx_env helpers)
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-phi4 240 "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
echo "phi4 done at ${SECONDS}s"
# --ab with a variable nothing reads: 2×3 timed generations in one process, after one untimed.
for v in head helpers helpers head; do
  [ $SECONDS -lt 500 ] && run_logged b8-8b-$v 80 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_NOTHING=1 --repeat 3
done
echo "all done at ${SECONDS}s"
