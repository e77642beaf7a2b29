#!/bin/bash
# Device call (written in the sixteenth session after its device time ran out; not yet run):
# programmatic dependent launch again, with the trigger moved. GOMLXGRPO_PDL=1 (opt-in) lost every
# time it was timed (H100 rounds 31–33 and 50; H200: the 1.5B batch-8 step 2.27 vs 2.16 ms). Every
# kernel calls pdl_trigger first, so the next kernel's blocks become resident as soon as the
# running kernel's have started, and take SM slots (registers, shared memory) from its later
# waves while they wait in griddepcontrol.wait.
#   pdlend: bench/round78-pdl-late-trigger.patch: the tensor-core matmuls (nf4_mma n8/n8w/n8g/
#           n8gw, s64/s64g, gemm_bf16_mma_s64) trigger after their main loop, before the split-K
#           finish; the one-launch attention kernels after the output pass, before the store (they
#           wait first, as before). The small kernels keep triggering first: the matmul after a
#           norm may then load its weights during it, the overlap PDL is for.
# And one more attention build:
#   pvtu2: bench/round78-attn-pv-tu2.patch: the several-heads kernels' output pass with two tiles'
#          V loads in flight per warp (attn_out_mma's TU = 2; 1 before: ~4 round trips in a row
#          per block at 456 positions). Same tile order per warp, so the same bits (the emulator's
#          several-heads cases compare bits with the per-head kernel). ptxas: 128 registers with
#          ~50/220 bytes of spills (h3w8; committed: none).
# Each process times GOMLXGRPO_PDL=1 (b) against the default 0 (a), for the committed build and
# pdlend. (1) The decoder test's LLaMA-3 NF4 case (its case 3 runs with PDL) with pdlend. (2) The
# 3B batch-64, 1.5B batch-8 LoRA and 8B batch-8 LoRA decode steps, head and pdlend; the 3B
# batch-64 step with pvtu2 (TestAttentionDecode first). ~390 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh pdlend bench/round78-pdl-late-trigger.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh pvtu2 bench/round78-attn-pv-tu2.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 100 'TestDecoderMatchesGoMLX/llama3_gqa_rope_scaled/nf4$' pdlend $(ptx_env pdlend)
cuda_tests 70 'TestAttentionDecode$' pvtu2 $(ptx_env pvtu2)
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
for v in head pdlend; do
  run_logged b64-3b-$v 80 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_PDL=1 --repeat 3
  run_logged b8-1.5b-lora-$v 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=1 --repeat 3
  run_logged b8-8b-lora-$v 70 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_PDL=1 --repeat 3
done
run_logged b64-3b-pvtu2 80 "$(ptx_env pvtu2)" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_PDL=1 --repeat 3
run_logged b64-3b-head-2 80 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_PDL=1 --repeat 3
echo "all done at ${SECONDS}s"
pack_out
