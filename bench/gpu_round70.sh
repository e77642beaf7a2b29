#!/bin/bash
# Device call (fifteenth session, after rounds 67–69 made the tensor-core scores and the
# two-splits finish the defaults): the decode attention's output pass on tensor cores too, as a
# PTX variant (no committed kernel changes until timed):
#   pv:   bench/round70-attn-pv-mma.patch: attn_out_mma, Σ_s p·V for 16 positions per mma
#         (C[dim][head] = Vᵀ·Pᵀ, KS = H/16 steps, A packed from the lanes' 16-byte V loads by
#         prmt) instead of 4 FMAs per lane, position and head, in the per-head and several-heads
#         kernels for H = 64 and 128; the 8-warp several-heads kernels with
#         __launch_bounds__(256, 2) (128 registers, 8–20 bytes of spills; 2 blocks per SM).
#   pvb1: the same without those bounds (h3w8: 156 registers, 1 block per SM).
# TestAttentionDecode per build (now with NaN in the caches' masked rows and an H = 64 shape),
# the 3B batch-64 decode step (head, pv, pvb1, head) and the 1.5B batch-8 LoRA step (head, pv),
# then issue 7's Qwen2.5-1.5B GRPO step beside the peer and the Phi-4 one, each with the build that
# won the 1.5B batch-8 step (pv if it passed its test and was faster, else head). ~560 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh pv bench/round70-attn-pv-mma.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh pvb1 bench/round70-attn-pv-mma-b1.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
for v in head pv pvb1; do cuda_tests 70 'TestAttentionDecode$' $v $(ptx_env $v); done
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 220 "pv pvb1" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=2 --repeat 3
for v in head pv; do
  run_logged b8-1.5b-$v 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=0 --repeat 3
done
echo "generation done at ${SECONDS}s"
med() { grep -o '"a_median_ms":[0-9.]*' "$OUT/$1.log" | cut -d: -f2; }
use=head
if grep -q '^rc=0' "$OUT/tests-pv.txt" && [ -n "$(med b8-1.5b-pv)" ] && [ -n "$(med b8-1.5b-head)" ] &&
  awk "BEGIN{exit !($(med b8-1.5b-pv) < $(med b8-1.5b-head))}"; then use=pv; fi
echo "GRPO steps with the $use build"
run_logged grpo-1.5b-$use 150 "$(ptx_env $use)" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "1.5b done at ${SECONDS}s"
timeout 80 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
if [ $SECONDS -lt 380 ]; then
  python3 bench/hf_foundation.py make $CK phi-4 2>&1 | grep --line-buffered '^{'
  run_logged grpo-phi4-$use $((570 - SECONDS)) "$(ptx_env $use)" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
fi
echo "all done at ${SECONDS}s"
