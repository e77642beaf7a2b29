#!/bin/bash
# Device call (eighth session; issue 7 item 5): the Llama-3.1-8B-shape GRPO step with 4,096-token
# completions (NF4 + LoRA r=16, G=8, 256-token prompt) on one 80 GB card, its peak beside Unsloth's
# published long-context figures (../shared/docs/grpo-reference.md §3). Round 24 ran out of time in
# XLA's compilation of the 8-row log-prob executable (19 query chunks per layer); now the log-prob
# and training passes go one row at a time (--gradient-accumulation 8, TRL's
# per_device_train_batch_size 1): one row's scores (2.3 GiB) fit one 4 GiB attention block, no query
# chunks. XLA's per-executable memory logged. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "checkpoint made at ${SECONDS}s"
run_logged longctx-8b 540 "GOMLXGRPO_XLA_LOG=1" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 --every 1 --completion 4096 --gradient-accumulation 8 --attention-block-mib 4096; xla_mem longctx-8b
grep -iE "out of memory|resource_exhausted" "$OUT/longctx-8b.log" | head -3
echo "all done at ${SECONDS}s"
