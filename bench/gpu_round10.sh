#!/bin/bash
# Device call (fourth session, after the streaming NF4 tensor-core form and split-K): the matmul and
# decoder tests, the NF4 matmul benchmarks (8B MLP shape; a Qwen2.5-1.5B layer's 7 projections
# replayed as a CUDA graph), generation on the CUDA decoder at batch 8 and 64 beside transformers'
# generate, its per-kernel profile, then the Qwen2.5-1.5B-shape GRPO step beside transformers +
# PEFT. Every run's full output is kept in $OUT/<label>.log. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
RUN='NF4GEMV|GEMVBF16|ResidualRMSNorm|Decoder' BENCH='NF4' GEN=0 TEST_S=${TEST_S:-240} bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b; L3=$CK/llama3.2-3b
run() { # label, timeout, env, binary, args... (full output in $OUT/label.log)
  local label=$1 t=$2 envs=$3 bin=$4; shift 4
  env $envs timeout $t .gpu/$bin "$@" > "$OUT/$label.log" 2>&1; echo "rc=$?" >> "$OUT/$label.log"
  grep -E '^\{' "$OUT/$label.log" | sed "s/^{/{\"run\":\"$label\",/"
  grep -iE 'error|panic|rc=[1-9]' "$OUT/$label.log" | head -3
}
{
run cuda-b8 90 "" grpo-cuda bench generate --model $Q --load-in-4bit
run cuda-b64 90 "" grpo-cuda bench generate --model $L3 --batch 64 --load-in-4bit
run profile-b8 90 "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --model $Q --load-in-4bit
grep "cuda profile" "$OUT/profile-b8.log" | tail -12
run profile-b64 90 "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --model $L3 --batch 64 --load-in-4bit
grep "cuda profile" "$OUT/profile-b64.log" | tail -12
timeout 100 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "generation done at ${SECONDS}s"
run grpo-cuda 120 "" grpo-cuda bench grpo --model $Q --steps 3
timeout 120 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round10.jsonl"
echo "all done at ${SECONDS}s"
