#!/bin/bash
# Device call after split-K (fourth session): the matmul and decoder tests with tensor cores on by
# default, the NF4 matmul benchmarks (8B MLP shape; one Qwen2.5-1.5B layer's 7 projections),
# generation on the CUDA decoder at batch 8 and 64 with its per-kernel profile beside transformers'
# generate, then the Qwen2.5-1.5B-shape GRPO step beside transformers + PEFT. Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
RUN='NF4GEMV|GEMVBF16|ResidualRMSNorm|Decoder' BENCH='NF4' GEN=0 TEST_S=${TEST_S:-200} bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b; L3=$CK/llama3.2-3b
run() { # label, env, binary, args...
  local label=$1 envs=$2 bin=$3; shift 3
  env $envs timeout 90 .gpu/$bin bench generate "$@" 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -3 | sed "s/^{/{\"run\":\"$label\",/"
}
{
run cuda-b8 "GOMLXGRPO_MMA=1" grpo-cuda --model $Q --load-in-4bit
run cuda-b64 "GOMLXGRPO_MMA=1" grpo-cuda --model $L3 --batch 64 --load-in-4bit
GOMLXGRPO_CUDA_PROFILE=1 timeout 90 .gpu/grpo-cuda bench generate --model $Q --load-in-4bit 2>&1 | grep --line-buffered "cuda profile" | tail -14
timeout 100 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "generation done at ${SECONDS}s" >&2
timeout 100 .gpu/grpo-cuda bench grpo --model $Q --steps 3 2>&1 | grep --line-buffered -E '^\{|rror|panic' | sed 's/^{/{"bin":"grpo-cuda",/'
timeout 120 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round9.jsonl"
echo "all done at ${SECONDS}s"
