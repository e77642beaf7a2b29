#!/bin/bash
# Device call (written in the seventeenth session after its device time ran out; not yet run): two
# builds of the NF4 tensor-core matmuls' dequantization (nf4_mma n8/n8w/n8g/n8gw and s64/s64g) that
# round as bitsandbytes' bf16 inference kernel does, w = bf16(bf16(NF4[code]) · bf16(absmax))
# (bitsandbytes csrc/gemm_4bit_simt.cu: bf16 centroids, __hmul2 by the bf16 scale pair), instead of
# as its dequantize_4bit, w = bf16(NF4[code] · absmax) (the GoMLX path's and the committed kernels').
# The bf16 product needs no float32 multiply and no cvt, and the unscaled values can be looked up
# two at a time:
#   prmt:  bench/round80-nf4-bnb-prmt.patch: register lookups, prmt in the 16 values' bf16 bytes
#          (8 prmt and 3 logic operations per 4 weights), one fma.rn.bf16x2 per pair; no shared
#          table, so none of the lookups' shared loads (round 76: short-scoreboard stalls were 22%
#          of the 8B gate/up launch's samples). SASS: about as many instructions as committed.
#   pairs: bench/round80-nf4-bnb-pairs.patch: one shared load per code byte from a table of the
#          256 bytes' unscaled pairs (16 columns, 16 KiB, in the batch-8 forms; 8 columns, 8 KiB,
#          in s64), its address from one prmt and one mad, one fma.rn.bf16x2: ~4 instructions per
#          byte against ~9. SASS: nf4_mma_n8gw 3,829 → 3,245 instructions, nf4_mma_s64 3,099 →
#          2,812 (s64 spills 52/80 bytes against 40/44).
# Both patches change the tensor-core references (gomlxgrpo/cuda mmaWeights, the emulator's
# MMAWeights) to that rounding: the emulator's matmul cases pass with both and fail (16 failures)
# against the old reference. The decoder's GoMLX path keeps dequantize_4bit's rounding; the decoder
# test allows near-ties (log-prob gap ≤ 2/64) and checks log-probs within 0.05 + 2%.
# (1) GPU tests per build, with the patched test binary (its references) and the build's PTX:
# TestNF4GEMV and TestNF4GEMVGroup, then the decoder test's Llama-3 and Qwen2 NF4 cases with
# pairs. (2) The 3B batch-64, 1.5B batch-8 LoRA and 8B batch-8 LoRA decode steps per build, the
# committed one first and again last (while time allows). (3) The decoder cases with prmt, if
# time is left. ~540 s: run with timeout_s 590.
# Build first (.gpu must stay under the 64 MiB carry: remove the other rounds' extra files):
#   scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_gpu_binaries.sh patch bnb bench/round80-nf4-bnb-pairs.patch && rm .gpu/grpo-cuda-bnb.gz
#     (.gpu/cuda-bnb.test.gz: both patches' tests are the same)
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh prmt bench/round80-nf4-bnb-prmt.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh pairs bench/round80-nf4-bnb-pairs.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
for v in prmt pairs; do
  CUDA_TEST=cuda-bnb.test cuda_tests 80 'TestNF4GEMV$|TestNF4GEMVGroup$' $v $(ptx_env $v)
done
CUDA_TEST=cuda-bnb.test cuda_tests 110 'TestDecoderMatchesGoMLX/(llama3_gqa_rope_scaled|qwen2_gqa_tied_bias)/nf4$' decoder-pairs $(ptx_env pairs)
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 0 "prmt pairs" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --repeat 3
build_steps b8-1.5b-lora 60 420 "prmt pairs" bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --repeat 3
build_steps b8-8b-lora 70 500 "prmt pairs" bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --repeat 3
[ $SECONDS -lt 470 ] && CUDA_TEST=cuda-bnb.test cuda_tests 110 'TestDecoderMatchesGoMLX/(llama3_gqa_rope_scaled|qwen2_gqa_tied_bias)/nf4$' decoder-prmt $(ptx_env prmt)
echo "all done at ${SECONDS}s"
pack_out
