#!/bin/bash
# Device call (sixteenth session, after round 71's ncu source counters on nf4_mma_s64): three
# changes, all in the committed binary's embedded PTX ("head"), each timed against builds without
# it (PTX variants made from reverse patches) or, for the LM head, against the old form in the same
# process (--ab GOMLXGRPO_BF16_S64=0):
#   lut:  bench/round73-nf4-lut-imm.patch: load_nf4_pairs takes the 16 NF4 values from immediates
#         (nf4_value) instead of the constant bank, whose reads missed the constant cache at every
#         launch (7% of s64's stall samples on the one store after them).
#   epi:  bench/round73-store-rolled.patch: mma_store's LoRA path for NT = 8 in a loop that is not
#         unrolled, so the 64-row epilogue is ~3,000 SASS instructions, not ~14,500 (23% of s64's
#         stall samples in the epilogue, most of them "no instruction").
#   s64:  gemm_bf16_mma_s64, the LM head at 64 rows with x staged in shared memory per 64 output
#         rows (the n64 form read all of x from L2 per 16 output rows: ~427 µs, 1.8 TB/s).
# Builds: prev (neither lut nor epi), nolut, noepi. (1) GPU tests of head: the bf16 and NF4
# matmuls, both bf16 forms, and the decoder against the GoMLX path. (2) One 3B layer at 64 rows,
# head and prev. (3) The 3B batch-64 decode step per build (head, prev, nolut, noepi, head), each
# process timing s64 (a) against n64 (b). (4) The 1.5B batch-8 LoRA step, head and prev. (5) The
# per-kernel profile of the 3B batch-64 step. ~420 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   git diff -R style reverse patches: scripts/build_ptx_variant.sh prev /tmp/prev.patch (lut+epi
#   reversed), nolut /tmp/nolut.patch, noepi /tmp/noepi.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestGEMVBF16AndLoRADown|TestNF4GEMV$|TestNF4GEMVGroup|TestDecoderMatchesGoMLX' head
cuda_tests 60 'TestNF4GEMV$|TestNF4GEMVGroup' prev $(ptx_env prev)
echo "tests done at ${SECONDS}s"
for v in head prev; do layer_bench $v llama3b-b64 'NF4Projections/llama3b-b64/' $(ptx_env $v); done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 400 "prev nolut noepi" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_BF16_S64=0 --repeat 3
for v in head prev; do
  run_logged b8-1.5b-$v 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=0 --repeat 3
done
echo "generation done at ${SECONDS}s"
profile_step profile-3b-b64 80 12 bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --new 50
echo "all done at ${SECONDS}s"
pack_out
