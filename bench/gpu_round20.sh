#!/bin/bash
# Device call (seventh session; issues 6 and 7): the NF4 tensor-core matmuls' dequantization table
# laid out so that a warp's lookups never share a shared-memory bank (kernels/nf4_mma.cu
# load_nf4_pairs; the 256-entry pair table it replaces cost ~7 wavefronts per lookup). Tests of
# the new kernels (TestNF4GEMV: n8, n64, w64; the grouped form; the decoder on the tiny
# checkpoints), then the matmul benchmarks of the previous commit's kernels (.gpu/cuda-old.test)
# and the new ones on the same card, generation at batch 8 (Qwen2.5-1.5B) and 64 (Llama-3.2-3B,
# with and without the wide 64-row form) old and new, and the 1.5B GRPO step, beside
# transformers + PEFT. Build first: scripts/build_gpu_binaries.sh, then OLD=<commit>
# scripts/build_gpu_binaries.sh old (adds .gpu/*-old built from that commit).
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 200 ../../.gpu/cuda.test -test.v -test.run 'NF4GEMV|DecoderMatchesGoMLX' 2>&1 | grep -E -- '^(---|ok|FAIL|PASS)|_test.go|panic' | head -16)
echo "tests done at ${SECONDS}s"
for bin in cuda-old.test cuda.test; do
  (cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 120 ../../.gpu/$bin -test.run '^$' -test.bench 'NF4GEMV|NF4Layer|Copy' -test.benchtime 200x 2>&1 | grep -E '^Benchmark' | sed "s/^/$bin /")
done
echo "benchmarks done at ${SECONDS}s"
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
for v in old new; do
  bin=grpo-cuda; [ $v = old ] && bin=grpo-cuda-old
  run_logged b8-$v 60 "" $bin bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
  run_logged b64-$v 80 "" $bin bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
done
run_logged b8-new-group 60 "GOMLXGRPO_MMA_GROUP=1" grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit
run_logged b64-new-wide 80 "GOMLXGRPO_MMA64=wide" grpo-cuda bench generate --model $CK/llama3.2-3b --batch 64 --load-in-4bit
run_logged grpo-1.5b 90 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3
timeout 80 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round20.jsonl"
echo "all done at ${SECONDS}s"
