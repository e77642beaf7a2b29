#!/bin/bash
# Device call (written in the twelfth session, rewritten in the thirteenth; not yet run): where the
# decode steps' time goes outside the NF4 matmuls. (1) The 8B batch-8 step's per-kernel profile
# (GOMLXGRPO_CUDA_PROFILE=1: kernels launched one by one, CUDA events around each, so each figure
# carries a launch), with the default one-pass norm and with the general one (GOMLXGRPO_NORM=chunked).
# (2) Issue 6: Nsight Compute's speed-of-light, occupancy and warp-state sections on the decode
# attention of the 3B batch-64 step (106 µs per layer in the ninth session, ~5× the time its K and V
# bytes take at the card's copy rate) and of the 1.5B batch-8 step, from BenchmarkAttentionDecode
# with GOMLXGRPO_CUDA_RAW=1 (cu.MemAlloc, no PJRT in the process: ncu crashed under PJRT, twice).
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
for e in "" GOMLXGRPO_NORM=chunked; do
  l=${e#GOMLXGRPO_}; l=profile-8b${l:+-${l//=/-}}
  run_logged $l 60 "GOMLXGRPO_CUDA_PROFILE=1 $e" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --new 50
  grep 'cuda profile' "$OUT/$l.log" | head -14
done
echo "profiles done at ${SECONDS}s"
cuda_bench 60 'AttentionDecode' GOMLXGRPO_CUDA_RAW=1
for f in llama3b-b64/h3 qwen1.5b-b8/w16u16; do
  l=ncu-attention-${f//\//-}
  (cd gomlxgrpo/cuda && GOMLXGRPO_CUDA_RAW=1 timeout 120 $NCU --clock-control none --section SpeedOfLight --section Occupancy \
    --section WarpStateStats --section MemoryWorkloadAnalysis -k regex:attention --launch-skip 5 --launch-count 2 \
    ../../.gpu/cuda.test -test.run '^$' -test.bench "AttentionDecode/$f\$" -test.benchtime 10x > "$OUT/$l.txt" 2>&1)
  echo "$l rc=$? at ${SECONDS}s"
  grep -E 'attention_|Duration|DRAM Throughput|Memory Throughput|L2 Hit|Achieved Occupancy|Theoretical Occupancy|Registers Per|Warp Cycles Per Issued|Stall|Block Limit' "$OUT/$l.txt" | head -40
done
echo "all done at ${SECONDS}s"
