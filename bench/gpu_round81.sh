#!/bin/bash
# Device call (written in the seventeenth session after its device time ran out; not yet run):
# round 79's rotary epilogue again, with the factors from a table. Round 79 moved RoPE and the K/V
# cache write into the q/k/v matmul's epilogue (one launch fewer per layer, bit for bit the same)
# but computed cosf/sinf in the finishing warps: nf4_mma_n8g_rope took 127 registers (plain 95)
# and s64g_rope spilled, and the step got slower at 3B batch 64 (5.563 vs 5.471 ms) and 8B batch 8
# (5.668 vs 5.592). bench/round81-rope-table.patch (a whole-source patch: kernels, launcher,
# decoder, tests) has rope_table_bf16 write the step's [B, H/2] (cos, sin) once per step (the
# positions are the same in every layer) and the epilogue read them: n8g_rope 96 registers,
# n8gw_rope 80 (as the plain ones), no stack frame; s64g_rope still spills 60/80 bytes (plain
# 28/28). Emulator: testMMAGroupRope (the fused launch against the plain one + rope_cache_bf16,
# bit for bit) passes. (1) The GPU tests of the patched build: TestNF4GEMVGroupRope, TestRopeCache,
# TestNF4GEMVGroup, the decoder's Llama-3 and Qwen2 NF4 cases (head dim 16: the fused path). (2)
# A/B in one process with the patched binary, GOMLXGRPO_ROPE_FUSED=0 (b: rope_cache's launch per
# layer, the committed behaviour) against the fused default (a), on the 3B batch-64, 1.5B batch-8
# LoRA and 8B batch-8 LoRA decode steps. (3) xdiv (bench/round81-n8-stage-rows.patch, a PTX
# variant): the batch-8 forms' x staging finds each copy's row by a multiply with a reciprocal
# instead of a division per copy (round 76's ncu: ~15 instructions per copy, ~3.5% of the 8B
# gate/up launch's stall samples; the WT loop body 44 → 31 SASS instructions); the emulator's
# batch-8 cases pass, and fail (26) with the reciprocal rounded down. The 1.5B and 8B batch-8 LoRA
# steps, committed build first and last. (4) The 1.5B GRPO step with the patched binary and the
# peer's, while time allows. ~520 s: run with timeout_s 590.
# Build first (.gpu must stay under the 64 MiB carry: remove the other rounds' extra files):
#   scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_gpu_binaries.sh patch ropet bench/round81-rope-table.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh xdiv bench/round81-n8-stage-rows.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
CUDA_TEST=cuda-ropet.test cuda_tests 90 'TestNF4GEMVGroupRope|TestRopeCache|TestNF4GEMVGroup$' ropet
CUDA_TEST=cuda-ropet.test cuda_tests 110 'TestDecoderMatchesGoMLX/(llama3_gqa_rope_scaled|qwen2_gqa_tied_bias)/nf4$' decoder-ropet
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-ropet 80 "" grpo-cuda-ropet bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ROPE_FUSED=0 --repeat 3
run_logged b8-1.5b-lora-ropet 60 "" grpo-cuda-ropet bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_ROPE_FUSED=0 --repeat 3
run_logged b8-8b-lora-ropet 70 "" grpo-cuda-ropet bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ROPE_FUSED=0 --repeat 3
echo "rope steps done at ${SECONDS}s"
build_steps b8-1.5b-lora 60 0 "xdiv" bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --repeat 3
build_steps b8-8b-lora 70 420 "xdiv" bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --repeat 3
echo "xdiv steps done at ${SECONDS}s"
[ $SECONDS -lt 400 ] && run_logged grpo-1.5b-ropet 150 "" grpo-cuda-ropet bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
[ $SECONDS -lt 490 ] && timeout $((550 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
