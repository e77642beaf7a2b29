#!/bin/bash
# Device call (tenth session; round 42's warm run crashed with XLA's kernel cache, now dropped): the
# XLA autotune cache (gomlxgrpo/backend/xlacache.go) on the first GRPO step: the 1.5B step once without the cache, then twice with a fresh cache directory
# (cold, then warm: a new process, as a notebook kernel restart). Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
for f in xla_gpu_per_fusion_autotune_cache_dir; do echo "$f in plugin: $(grep -c "$f" "$PLUGIN")"; done
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged grpo-nocache 160 "GOMLXGRPO_XLA_CACHE=0" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 1 --every 1
echo "no cache done at ${SECONDS}s"
run_logged grpo-cold 160 "GOMLXGRPO_XLA_CACHE=/tmp/xa" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 1 --every 1
ls -la /tmp/xa /tmp/xa/autotune | head; du -sh /tmp/xa
run_logged grpo-warm 160 "GOMLXGRPO_XLA_CACHE=/tmp/xa" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 1 --every 1
du -sh /tmp/xa
echo "all done at ${SECONDS}s"
