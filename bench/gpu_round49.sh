#!/bin/bash
# Device call (written in the eleventh session after its device time ran out; not yet run): the
# split-K finish of the tensor-core matmuls (kernels/mma.cuh mma_finish_warp) loading 8 splits'
# partials at a time (head, commit b69dd62; same summation order, bit-identical results), against
# round 47's kernels (base) and head plus release/acquire instead of two sequentially consistent
# fences around the split counter (acqrel, bench/round49-acqrel.patch). One binary, the variants
# through GOMLXGRPO_PTX_DIR. Build (23 MiB):
#   scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
#   scripts/build_ptx_variant.sh base 2e95987
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh acqrel bench/round49-acqrel.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
for v in head acqrel; do cuda_tests 100 'TestNF4GEMV$|TestNF4GEMVGroup|TestGEMVBF16AndLoRADown' $v $(ptx_env $v); done
for l in llama8b-b8 phi4-b8 qwen1.5b-b8; do
  for v in base head acqrel; do layer_bench $v $l NF4Projections $(ptx_env $v); done
done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
# --ab with a variable nothing reads: 2×3 timed generations in one process, after one untimed.
for v in base head acqrel acqrel head base; do
  run_logged b8-8b-$v 100 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_NOTHING=1 --repeat 3
done
for v in base head acqrel; do
  run_logged b8-1.5b-$v 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_NOTHING=1 --repeat 3
done
echo "generation done at ${SECONDS}s"
echo "all done at ${SECONDS}s"
