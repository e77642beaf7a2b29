#!/bin/bash
# Device call (eleventh session): round 45 had the cp.async + L1-prefetch batch-8 NF4 forms faster
# on the bare 8B layer (124.1 vs 131.2 µs) but the 8B batch-8 decode step slower (8.3 vs 7.34 ms).
# BenchmarkNF4Projections had no LoRA; it now has a lora16 form. Three builds of
# kernels/nf4_mma.ptx, loaded by one binary through GOMLXGRPO_PTX_DIR: old (a887b74: x staged
# through registers, no prefetch), cpa (cp.async, no prefetch: the two lora_prefetch calls off) and
# new (HEAD: cp.async + prefetch). Build: scripts/build_gpu_binaries.sh, then
# .gpu/ptx-{old,cpa,new}/nf4_mma.ptx (23 MiB in all).
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
for l in llama8b-b8 qwen1.5b-b8; do
  for v in old cpa new; do layer_bench $v $l NF4Projections $(ptx_env $v); done
done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
# --ab with a variable nothing reads: 2×3 timed generations in one process, after one untimed.
for v in old cpa new new cpa old; do
  run_logged b8-8b-$v 100 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_NOTHING=1 --repeat 3
done
for v in old cpa new; do
  run_logged b8-1.5b-$v 60 "$(ptx_env $v)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_NOTHING=1 --repeat 3
done
grep -h "GOMLXGRPO_PTX_DIR" $OUT/b8-8b-*.log | sort | uniq -c
echo "all done at ${SECONDS}s"
