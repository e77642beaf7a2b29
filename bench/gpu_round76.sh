#!/bin/bash
# Device call (written in the sixteenth session after its device time ran out; not yet run):
# issue 7's Llama-3.1-8B GRPO step with round 73's defaults beside the peer's (round 75 gave it
# 140 s: too short, the load takes ~14 s and the first step ~110 s), and a sweep of the batch-8
# warp-tile NF4 form's sizing on the H200, which the 8B shape's gate/up and down matmuls take
# (62% of its batch-8 kernel time, round 69's profile). The sizing was last swept on an H100
# (GOMLXGRPO_N8W_BLOCKS=4, GOMLXGRPO_N8W_CHUNKS=8), before the split-K finish and the NF4 table
# changes; both are read at each launch, so each process times a setting (b) against the
# defaults (a). Then ncu source counters per SASS instruction on one 8B layer's batch-8 NF4
# launches. ~460 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
for ab in GOMLXGRPO_N8W_BLOCKS=6 GOMLXGRPO_N8W_BLOCKS=8 GOMLXGRPO_N8W_CHUNKS=4 GOMLXGRPO_N8W_CHUNKS=12; do
  l=${ab#GOMLXGRPO_}; run_logged b8-8b-lora-${l/=/-} 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab $ab --repeat 3
done
echo "sweep done at ${SECONDS}s"
# Nsight Compute's source counters on one 8B layer's batch-8 NF4 launches (q/k/v, o, gate/up,
# down), printed per SASS instruction: round 71's reading of s64 found its epilogue and table fill
# that way; the batch-8 forms have not been looked at per instruction.
ncu_sass n8 llama8b-b8 nf4_mma_n8 8 4 lora16
[ -s "$OUT/ncu-n8-sass.csv" ] && gzip -f "$OUT/ncu-n8-sass.csv"
run_logged grpo-8b 200 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 500 ] && timeout $((580 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out ncu-n8-sass.csv.gz
