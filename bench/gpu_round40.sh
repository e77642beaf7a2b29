#!/bin/bash
# Device call (tenth session): where the batch-8 NF4 matmul's time goes on the large matrices (the
# warp-tile form, nf4_mma_n8w / n8gw, Llama-3.1-8B and Phi-4 shapes): one layer's projections timed
# plainly (BenchmarkNF4Projections, no PJRT in the process), then Nsight Compute's full set with
# per-SASS stall sampling on one 8B layer's 4 launches. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
cd gomlxgrpo/cuda
for l in qwen1.5b-b8 llama8b-b8 phi4-b8; do
  GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=$l timeout 90 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic'
done
GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=llama8b-b8 GOMLXGRPO_MMA8=streaming timeout 90 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic' | sed 's/^/streaming /'
echo "timings done at ${SECONDS}s"
GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=llama8b-b8 timeout 240 $NCU --clock-control none --set full -k regex:nf4_mma --launch-skip 4 --launch-count 4 -o /tmp/n8w \
  ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 1x > "$OUT/ncu-n8w.log" 2>&1
echo "ncu rc=$? at ${SECONDS}s"
$NCU --import /tmp/n8w.ncu-rep --page raw --csv > "$OUT/n8w-raw.csv" 2>&1
$NCU --import /tmp/n8w.ncu-rep --page source --print-source sass --csv > "$OUT/n8w-sass.csv" 2>&1
$NCU --import /tmp/n8w.ncu-rep --page details --print-details all > "$OUT/n8w-details.txt" 2>&1
gzip -9 "$OUT/n8w-sass.csv" "$OUT/n8w-raw.csv"
ls -la "$OUT"
grep -E '^  nf4|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Registers Per|Issue Slots Busy|Warp Cycles Per Issued' "$OUT/n8w-details.txt" | head -60
echo "all done at ${SECONDS}s"
