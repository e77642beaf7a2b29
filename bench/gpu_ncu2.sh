#!/bin/bash
# Device call (eighth session): why the 64-row NF4 form is slow on the Llama-3.2-3B shapes (the first
# ncu call, bench/gpu_ncu.sh: k/v projections 70 µs for 1.5 MB of weights, SMs active half the
# time, the unsplit gate/up 38 µs for 12.6 MB): the split-K of that form swept
# (GOMLXGRPO_MMA_SPLITS), then ncu's full set with per-SASS-instruction stall sampling on one
# layer's 7 launches of it, and on the batch-8 form's 4. Build first: scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
cd gomlxgrpo/cuda
for s in 0 1 2 4 8; do
  GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_MMA_SPLITS=$s timeout 60 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections/llama' -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic' | sed "s/^/splits=$s /"
done
echo "sweep done at ${SECONDS}s"
GOMLXGRPO_CUDA_RAW=1 timeout 200 $NCU --clock-control none --set full --import-source no -k regex:nf4_mma_n64 --launch-skip 7 --launch-count 7 -o /tmp/n64 \
  ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections/llama3b-b64/default' -test.benchtime 1x > "$OUT/ncu2-n64.log" 2>&1
echo "ncu n64 rc=$? at ${SECONDS}s"
GOMLXGRPO_CUDA_RAW=1 timeout 120 $NCU --clock-control none --set full -k regex:nf4_mma_n8 --launch-skip 4 --launch-count 4 -o /tmp/n8 \
  ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections/qwen' -test.benchtime 1x > "$OUT/ncu2-n8.log" 2>&1
echo "ncu n8 rc=$? at ${SECONDS}s"
for r in n64 n8; do
  $NCU --import /tmp/$r.ncu-rep --page raw --csv > "$OUT/$r-raw.csv" 2>&1
  $NCU --import /tmp/$r.ncu-rep --page source --print-source sass --csv > "$OUT/$r-sass.csv" 2>&1
  $NCU --import /tmp/$r.ncu-rep --page details --print-details all > "$OUT/$r-details.txt" 2>&1
  gzip -9 "$OUT/$r-sass.csv" "$OUT/$r-raw.csv"
done
ls -la "$OUT"
grep -E '^  nf4|Duration|stalled|Stall' "$OUT/n64-details.txt" | head -60
echo "all done at ${SECONDS}s"
