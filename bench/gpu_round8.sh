#!/bin/bash
# First device call of the next session: the CUDA tests with the tensor-core NF4 kernels on
# (GOMLXGRPO_MMA=1: TestNF4GEMV runs both forms either way, the decoder test then decodes NF4
# projections on tensor cores), the NF4 matmul benchmarks (8 and 64 rows, both forms), then
# generation with the CUDA decoder (default, and tensor cores) and the GoMLX path beside
# transformers' generate. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
GOMLXGRPO_MMA=1 GEN=0 TEST_S=${TEST_S:-220} bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b; L3=$CK/llama3.2-3b
run() { # label, env, binary, args...
  local label=$1 envs=$2 bin=$3; shift 3
  env $envs timeout 90 .gpu/$bin bench generate "$@" 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -3 | sed "s/^{/{\"run\":\"$label\",/"
}
{
run cuda-gemv "GOMLXGRPO_MMA=0" grpo-cuda --model $Q --load-in-4bit
run cuda-mma "GOMLXGRPO_MMA=1" grpo-cuda --model $Q --load-in-4bit
run xla "GOMLXGRPO_DECODER=xla" grpo --model $Q --load-in-4bit
run cuda-mma-b64 "GOMLXGRPO_MMA=1" grpo-cuda --model $L3 --batch 64 --load-in-4bit
run xla-b64 "GOMLXGRPO_DECODER=xla" grpo --model $L3 --batch 64 --load-in-4bit
GOMLXGRPO_MMA=1 GOMLXGRPO_CUDA_PROFILE=1 timeout 90 .gpu/grpo-cuda bench generate --model $Q --load-in-4bit 2>&1 | grep --line-buffered "cuda profile" | tail -14
timeout 100 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/generate_round8.jsonl"
echo "all done at ${SECONDS}s"
