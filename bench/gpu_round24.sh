#!/bin/bash
# Device call (seventh session; run once: the log-prob executable did not compile within its
# 330 s; rerun after the query-chunk change that followed): issue 7 item 5, the Llama-3.1-8B-shape GRPO step with 4,096-token
# completions (NF4 + LoRA r=16, G=8, 256-token prompt) on one 80 GB card — its peak beside
# Unsloth's published long-context figures (../shared/docs/grpo-reference.md §3), XLA's
# per-executable memory logged — then the Phi-4-shape step (200-token completions) beside
# transformers + PEFT. ATTN_MIB=4096 takes the attention in 5 query chunks per layer instead of 19
# (fewer ops to compile, more memory at the peak). Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged longctx-8b 330 "GOMLXGRPO_XLA_LOG=1" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2 --every 1 --completion 4096 --attention-block-mib ${ATTN_MIB:-1024}; xla_mem longctx-8b
grep -iE "out of memory|resource_exhausted" "$OUT/longctx-8b.log" | head -3
echo "long context done at ${SECONDS}s"
[ $SECONDS -lt 380 ] || { echo "no time left for Phi-4"; exit 0; }
python3 bench/hf_foundation.py make $CK phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-phi4 170 "" grpo-cuda bench grpo --model $CK/phi-4 --steps 2 --every 1
[ $SECONDS -lt 520 ] && timeout $((595 - SECONDS)) python3 bench/hf_grpo_step.py grpo:phi-4 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
