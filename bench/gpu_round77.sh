#!/bin/bash
# Device call (written in the sixteenth session after its device time ran out; not yet run): three
# builds of the decode attention (the 3B batch-64 step's attention_decode_bf16_h3w8,
# ~40 µs per layer, ~1.2 TB/s of K/V reads; round 73's profile) as PTX variants:
#   vpf:  bench/round77-attn-v-prefetch.patch: each block first asks L2 for its V rows 0 … w
#         (prefetch.global.L2, ~4 per thread at 456 positions), so that the output pass, whose
#         warps load one tile per round trip (TU = 1: ~4 in a row per block), waits on L2 instead of
#         DRAM, and the copies overlap the scores pass and the softmax.
#   kvpf: the same plus K's rows past the scores pass's first round of tiles (16·W·2 positions).
#   vpfall: bench/round77-attn-v-prefetch-all.patch: vpf through one helper (attn_prefetch_v), also
#         in the per-head kernels (the batch-8 steps' attention_decode_bf16_w16u16).
# and two of the 64-row NF4 matmul:
#   adeq: bench/round77-s64-a-first.patch: nf4_mma_s64 dequantizes a chunk's A fragments before
#         the loop's cp.async wait and barrier (the compiler does not move code across the barrier,
#         so the lookups waited behind it), plus a barrier after the table's fill (without it the
#         emulator caught the first chunk reading the table before the other threads wrote it).
#         ptxas: 128 registers, 136/252 bytes of spills (s64; committed: 40/60).
#   adeq3: the same at __launch_bounds__(128, 3): 168 registers, no spills.
# Emulator: the several-heads cases pass with both (the emulator's prefetch_l2 reads a byte, so
# AddressSanitizer checks every prefetched address: 64 lines too many fail it). ptxas: h3w8 and
# h4w8 128 registers, no spills, as the committed build.
# Each 3B process also times GOMLXGRPO_S64_BLOCKS=1 (b): fewer, longer s64 blocks, whose set-up
# and split-K store were 30% of s64's stall samples in round 71 (2 and 4 were timed in round 63,
# 3 in round 74; 1 never).
# (1) TestAttentionDecode or TestNF4GEMV/Group per build. (2) The 3B batch-64 decode step per
# build (head, vpf, kvpf, vpfall, adeq, adeq3, head). (3) The 1.5B batch-8 LoRA step (head,
# vpfall, head). ~440 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh vpf bench/round77-attn-v-prefetch.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh kvpf bench/round77-attn-kv-prefetch.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh vpfall bench/round77-attn-v-prefetch-all.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh adeq bench/round77-s64-a-first.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh adeq3 bench/round77-s64-a-first-b3.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
for v in vpf kvpf vpfall; do cuda_tests 70 'TestAttentionDecode$' $v $(ptx_env $v); done
for v in adeq adeq3; do cuda_tests 70 'TestNF4GEMV$|TestNF4GEMVGroup' $v $(ptx_env $v); done
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 0 "vpf kvpf vpfall adeq adeq3" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=1 --repeat 3
for v in head vpfall head; do
  run_logged b8-1.5b-$v-$SECONDS 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=0 --repeat 3
done
echo "all done at ${SECONDS}s"
pack_out
