#!/bin/bash
# Device call: pretrain the shipped tiny model (gomlxgrpo/tiny) on the GPU backend, two noise levels.
set -u
source "$(dirname "$0")/gpu_common.sh"
export GOMLX_BACKEND="xla:$PLUGIN" GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0
for v in "a 0.4 3000" "b 0.25 3000"; do
  set -- $v
  mkdir -p /tmp/tiny_$1
  ( time .gpu/grpo pretrain-tiny --out /tmp/tiny_$1 --steps $3 --noise $2 ) > "$OUT/eval_$1.json" 2> "$OUT/log_$1.txt"
  cp /tmp/tiny_$1/model.safetensors "$OUT/model_$1.safetensors"
  tail -4 "$OUT/log_$1.txt"; cat "$OUT/eval_$1.json"
done
