#!/bin/bash
# Device call: the CUDA kernel tests and benchmark (gomlxgrpo/cuda, built with -tags cuda into
# .gpu/cuda.test), then a per-kernel timing of XLA's decode step with ncu (Qwen2.5-1.5B NF4, b8).
# Build here first:
#   CGO_CFLAGS=-I$CUDA/include CGO_LDFLAGS=-L$CUDA/lib/stubs go test -tags cuda -c -o .gpu/cuda.test ./gomlxgrpo/cuda
set -u
source "$(dirname "$0")/gpu_common.sh"
export GOMLX_BACKEND="xla:$PLUGIN,tf32=false"
(cd gomlxgrpo/cuda && ../../.gpu/cuda.test -test.v -test.bench . -test.benchtime 200x 2>&1 | tail -30) | tee "$OUT/cuda_tests.txt"
unset GOMLX_BACKEND
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
# The timed generation is the second; skip the first run's launches (compilation, autotuning, warm-up).
timeout 300 ncu --metrics gpu__time_duration.sum --csv --launch-skip 300000 --launch-count 2000 \
  .gpu/grpo bench generate --model $CK/qwen2.5-1.5b --load-in-4bit > /tmp/ncu.csv 2>/dev/null
python3 - <<'PY' | tee "$OUT/ncu_summary.txt"
import csv, collections
rows = [r for r in csv.reader(open("/tmp/ncu.csv")) if len(r) > 10]
hdr = rows[0]; ki = hdr.index("Kernel Name"); vi = hdr.index("Metric Value")
tot = collections.Counter(); cnt = collections.Counter()
for r in rows[1:]:
    try: v = float(r[vi].replace(",", ""))
    except ValueError: continue
    name = r[ki].split("(")[0][:60]; tot[name] += v; cnt[name] += 1
s = sum(tot.values())
print(f"{sum(cnt.values())} kernels, {s/1e6:.2f} ms total (ns units)")
for k, v in tot.most_common(25): print(f"{v/1e3:10.1f} us {cnt[k]:6d}x  {k}")
PY
