#!/bin/bash
# Device call: where a decode step's time goes on the GoMLX path (Qwen2.5-1.5B shape, 256-token
# prompt, 200 new tokens): host timing split and Go CPU profiles, an nsys kernel summary when nsys
# is installed, the optimized HLO of the decode step, and the card-level memory under each XLA
# allocator; transformers' generate beside it in the same call.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep '^{' | grep make
M=$CK/qwen2.5-1.5b
{
.gpu/grpo bench generate --model $M --cpuprofile $OUT/gen_b8.prof 2>&1 | grep '^{'
.gpu/grpo bench generate --model $M --batch 64 --cpuprofile $OUT/gen_b64.prof 2>&1 | grep '^{'
.gpu/grpo bench generate --model $M --load-in-4bit 2>&1 | grep '^{'
for a in cuda_async bfc; do
  GOMLX_BACKEND="xla:$PLUGIN,allocator=$a" .gpu/grpo bench generate --model $M --load-in-4bit 2>&1 | grep '^{' | sed "s/^{/{\"allocator\":\"$a\",/"
done
python3 bench/hf_grpo_step.py gen 2>&1 | grep '^{' | head -2
} | tee "$OUT/profile.jsonl"
XLA_FLAGS="--xla_dump_to=/tmp/xla --xla_dump_hlo_as_text" .gpu/grpo bench generate --model $M --load-in-4bit --new 8 >/dev/null 2>&1
ls -S /tmp/xla | head -20 > "$OUT/xla_files.txt"
(cd /tmp/xla && tar czf "$OUT/xla_opt.tgz" $(ls | grep 'after_optimizations.txt' | head -40))
if command -v nsys >/dev/null; then
  nsys profile -o /tmp/gen --force-overwrite true .gpu/grpo bench generate --model $M --new 40 >/dev/null 2>&1
  nsys stats --report cuda_gpu_kern_sum,cuda_api_sum,cuda_gpu_mem_time_sum /tmp/gen.nsys-rep 2>&1 | head -150 > "$OUT/nsys.txt"
else
  echo "no nsys; ncu: $(command -v ncu)" > "$OUT/nsys.txt"
fi
