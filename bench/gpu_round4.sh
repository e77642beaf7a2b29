#!/bin/bash
# Device call planned for the next session (build first: scripts/build_gpu_binaries.sh; the
# cuda test binary as in gpu_kernels.sh; gzip .gpu/*):
#   1. CUDA kernel tests + bandwidth benchmark, ncu per-kernel timing of XLA's decode step;
#   2. GRPO step, Llama-3.1-8B shape, beside the peer (line-buffered so a time-out keeps what finished);
#   3. Phi-4 shape GRPO step beside the peer.
set -u
source "$(dirname "$0")/gpu_common.sh"
bash bench/gpu_kernels.sh  # needs scripts/build_gpu_binaries.sh
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
{
GOMLXGRPO_XLA_LOG=1 .gpu/grpo bench grpo --model $CK/llama3.1-8b --steps 3 2> "$OUT/xla_mem_8b.log" | grep --line-buffered '^{'
python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
.gpu/grpo bench grpo --model $CK/phi-4 --steps 3 2>&1 | grep --line-buffered '^{'
python3 bench/hf_grpo_step.py grpo:phi-4 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/grpo_round4.jsonl"
