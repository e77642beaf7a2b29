#!/bin/bash
# Device call (seventeenth session): the rotary embedding and the K/V cache write fused into the
# q/k/v matmul's epilogue (nf4_mma_n8g_rope, n8gw_rope, s64g_rope: MMARope in kernels/mma.cuh),
# one launch fewer per layer (rope_cache_bf16's). (1) The GPU tests: the fused launch against
# NF4GEMVGroup + RopeCache bit for bit (TestNF4GEMVGroupRope), the decoder's greedy tokens against
# the GoMLX path on the tiny Llama-3 and Qwen2 NF4 checkpoints (head dims 16: they take the fused
# path). (2) A/B in one process, GOMLXGRPO_ROPE_FUSED=0 (b) against the fused default (a): the 3B
# batch-64, 1.5B batch-8 LoRA and 8B batch-8 LoRA decode steps. (3) The 8B batch-8 step with
# round 76's two better batch-8 warp-tile sizings together (b). (4) The 1.5B GRPO step and the
# peer's. ~430 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 90 'TestNF4GEMVGroupRope|TestRopeCache|TestNF4GEMVGroup$' rope
cuda_tests 150 'TestDecoderMatchesGoMLX/(llama3_gqa_rope_scaled|qwen2_gqa_tied_bias)/nf4' decoder
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged b64-3b-rope 80 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_ROPE_FUSED=0 --repeat 3
run_logged b8-1.5b-lora-rope 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_ROPE_FUSED=0 --repeat 3
run_logged b8-8b-lora-rope 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_ROPE_FUSED=0 --repeat 3
run_logged b8-8b-lora-n8w 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_N8W_BLOCKS=6,GOMLXGRPO_N8W_CHUNKS=4 --repeat 3
echo "steps done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
echo "grpo done at ${SECONDS}s"
[ $SECONDS -lt 490 ] && timeout $((550 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
