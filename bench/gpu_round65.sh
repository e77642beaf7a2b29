#!/bin/bash
# Device call (fourteenth session, H200, the last ~6 minutes of its device time): Nsight Compute
# on issue 6's batch-64 bottlenecks, for the next session. (1) The 3B batch-64 decode attention
# (h3, ~103 µs per layer, ~3.7× its K and V bytes at the copy rate) and the 1.5B batch-8 one
# (w16u16), from BenchmarkAttentionDecode without PJRT; (2) nf4_mma_s64 / s64g on one 3B layer at
# 64 rows (BenchmarkNF4Projections, 4 launches: q/k/v grouped, o, gate/up grouped, down).
# Speed-of-light, occupancy, warp-state and memory sections, clocks left alone. ~240 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo* .gpu/model.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
SECTIONS="--section SpeedOfLight --section Occupancy --section WarpStateStats --section MemoryWorkloadAnalysis --section LaunchStats"
KEEP='attention_|nf4_mma|Duration|DRAM Throughput|Memory Throughput|L1/TEX Hit|L2 Hit|Achieved Occupancy|Theoretical Occupancy|Registers Per|Warp Cycles Per Issued|Stall|Block Limit|Grid Size|Compute \(SM\) Throughput|Issue Slots'
for f in llama3b-b64/h3 qwen1.5b-b8/w16u16; do
  l=ncu-attention-${f//\//-}
  (cd gomlxgrpo/cuda && GOMLXGRPO_CUDA_RAW=1 timeout 80 $NCU --clock-control none $SECTIONS -k regex:attention --launch-skip 5 --launch-count 1 \
    ../../.gpu/cuda.test -test.run '^$' -test.bench "AttentionDecode/$f\$" -test.benchtime 10x > "$OUT/$l.txt" 2>&1)
  echo "$l rc=$? at ${SECONDS}s"
  grep -E "$KEEP" "$OUT/$l.txt" | head -40
done
l=ncu-s64-llama3b-b64
(cd gomlxgrpo/cuda && GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=llama3b-b64 timeout 100 $NCU --clock-control none $SECTIONS -k regex:nf4_mma_s64 --launch-skip 8 --launch-count 4 \
  ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections/llama3b-b64/default$' -test.benchtime 6x > "$OUT/$l.txt" 2>&1)
echo "$l rc=$? at ${SECONDS}s"
grep -E "$KEEP" "$OUT/$l.txt" | head -80
echo "all done at ${SECONDS}s"
