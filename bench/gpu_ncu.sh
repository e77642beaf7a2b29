#!/bin/bash
# Device call (eighth session; issues 6 and 7): Nsight Compute on the NF4 decode matmuls, to see
# what bounds them (memory throughput, stall reasons, occupancy) instead of guessing:
# BenchmarkNF4Projections (one layer's 7 projections as the decoder launches them, on cu.MemAlloc
# memory: no PJRT, under which ncu crashed in an earlier session) — Qwen2.5-1.5B at 8 rows and
# Llama-3.2-3B at 64 rows (default and wide forms) — timed plainly first, then under ncu. Then one
# try of ncu on the real batch-8 decoder (PJRT in the process) for the other kernels. Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
echo "ncu: $NCU"
SECTIONS="--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section LaunchStats --section SchedulerStats --section ComputeWorkloadAnalysis --section SourceCounters"
cd gomlxgrpo/cuda
GOMLXGRPO_CUDA_RAW=1 timeout 60 ../../.gpu/cuda.test -test.run '^$' -test.bench NF4Projections -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic|rror'
GOMLXGRPO_CUDA_RAW=1 timeout 240 $NCU --clock-control none $SECTIONS -k regex:nf4 --launch-count 60 \
  ../../.gpu/cuda.test -test.run '^$' -test.bench NF4Projections -test.benchtime 1x > "$OUT/ncu-nf4.txt" 2>&1
echo "ncu rc=$? at ${SECONDS}s"
grep -E '^  nf4_mma|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Registers Per|Compute \(SM\) Throughput|No Eligible|Issued Warp' "$OUT/ncu-nf4.txt" | head -150
cd ../..
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 200 $NCU --clock-control none --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
  -k regex:'attention|residual|sample_rows|gemm_bf16|rope|swiglu' --launch-skip 20 --launch-count 12 \
  .gpu/grpo-cuda bench generate --model $CK/qwen2.5-1.5b --load-in-4bit --new 4 > "$OUT/ncu-decoder.txt" 2>&1
echo "ncu decoder rc=$? at ${SECONDS}s"
grep -E '^  [a-z_0-9]+\(|^  [a-z_0-9]+ |Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|No Eligible' "$OUT/ncu-decoder.txt" | head -80
tail -5 "$OUT/ncu-decoder.txt"
echo "all done at ${SECONDS}s"
