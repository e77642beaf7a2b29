#!/bin/bash
# Device call (written in the fifteenth session after its device time ran out; not yet run):
# measurements that no call has taken since this session's attention and finish changes, for
# choosing the next levers, and two builds of the 64-row NF4 matmul as PTX variants:
#   sc4:   bench/round71-s64-scales.patch: nf4_mma_s64/s64g load the NF4 scales of 4 chunks at
#          once (lane t: chunk t of the group, for rows g and g+8) and pass each chunk's to the
#          row's lanes by shuffles, instead of every lane loading its chunk's scale (a 32-byte
#          sector per 4-byte scale and row; round 68's ncu: 25–28% of s64's global sectors were
#          excess). Same scales, same bits. ptxas: 128 registers, 60/28 bytes of spills (s64/s64g;
#          the committed build: 28/16).
#   sc4b2: the same with __launch_bounds__(128, 2): 206/194 registers, no spills.
#   attnh: bench/round71-attn-helpers.patch: the decode attention's mask and the tensor-core passes'
#          row loads through one helper each (attn_on, attn_row_words), the same arithmetic; it
#          changes the code clang emits (ptxas: 0–8 bytes of spills where the committed build
#          has 4–24), so it is timed before it replaces the two copies (fifteenth session's review).
# (1) Their GPU tests, one 3B layer at 64 rows per s64 build, the 3B batch-64 decode step per
#     build in separate processes (head, sc4, sc4b2, attnh, head), the 1.5B batch-8 LoRA step
#     (head, attnh).
# (2) Per-kernel profiles of the 3B batch-64 decode step and the 1.5B batch-8 LoRA one
#     (GOMLXGRPO_CUDA_PROFILE=1: kernels launched one by one with CUDA events around each, so
#     each figure carries a launch; 50 new tokens).
# (3) Nsight Compute on nf4_mma_s64/s64g in one 3B layer at 64 rows: source counters exported
#     (round 68's text report held only the summaries: 25–28% excess global sectors, 19% excess
#     shared wavefronts), then printed per SASS instruction from the export as CSV.
# ~420 s. Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh sc4 bench/round71-s64-scales.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh sc4b2 bench/round71-s64-scales-b2.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh attnh bench/round71-attn-helpers.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
for v in sc4 sc4b2; do cuda_tests 70 'TestNF4GEMV$|TestNF4GEMVGroup' $v $(ptx_env $v); done
cuda_tests 70 'TestAttentionDecode$' attnh $(ptx_env attnh)
echo "tests done at ${SECONDS}s"
for v in head sc4 sc4b2; do layer_bench $v llama3b-b64 'NF4Projections/llama3b-b64/' $(ptx_env $v); done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 0 "sc4 sc4b2 attnh" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=2 --repeat 3
for v in head attnh; do
  run_logged b8-1.5b-$v 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=0 --repeat 3
done
echo "generation done at ${SECONDS}s"
profile_step profile-3b-b64 80 16 bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --new 50
profile_step profile-1.5b-b8-lora 60 16 bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --new 50
echo "profiles done at ${SECONDS}s"
ncu_sass s64 llama3b-b64 nf4_mma_s64 8 2 default
echo "ncu done at ${SECONDS}s"
echo "all done at ${SECONDS}s"
pack_out ncu-s64-sass.csv
