#!/bin/bash
# Device call: the CUDA kernel and decoder tests (gomlxgrpo/cuda), then generation on the CUDA
# decoder beside the GoMLX path and transformers (same call). Build first:
# scripts/build_gpu_binaries.sh. NCU=1 adds a per-kernel ncu timing of XLA's decode step.
set -u
source "$(dirname "$0")/gpu_common.sh"
[ "${TESTS:-1}" = 1 ] && (cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout ${TEST_S:-200} ../../.gpu/cuda.test -test.v -test.bench "${BENCH:-.}" -test.benchtime 200x -test.run "${RUN:-.}" > "$OUT/cuda_tests.txt" 2>&1; echo "rc=$?" >> "$OUT/cuda_tests.txt")
[ "${TESTS:-1}" = 1 ] && grep -v "^=== RUN" "$OUT/cuda_tests.txt" | grep -E -- "^(---|ok|FAIL|PASS|Benchmark|rc=|panic)|_test.go|decoder" | head -80
[ "${GEN:-1}" = 1 ] || exit 0
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
Q=$CK/qwen2.5-1.5b; L3=$CK/llama3.2-3b
{
for bin in ${BINS:-grpo-cuda grpo}; do
  timeout 100 .gpu/$bin bench generate --model $Q 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -5 | sed "s/^{/{\"bin\":\"$bin\",/"
  timeout 100 .gpu/$bin bench generate --model $Q --load-in-4bit 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -5 | sed "s/^{/{\"bin\":\"$bin\",/"
  timeout 120 .gpu/$bin bench generate --model $L3 --batch 64 --load-in-4bit 2>&1 | grep --line-buffered -E '^\{|rror|panic' | head -5 | sed "s/^{/{\"bin\":\"$bin\",/"
done
[ "${PEER:-1}" = 1 ] && timeout 120 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/generate_cuda.jsonl"
[ "${NCU:-0}" = 1 ] || exit 0
# The timed generation is the second; skip the first run's launches (compilation, autotuning, warm-up).
timeout 240 ncu --metrics gpu__time_duration.sum --csv --launch-skip 300000 --launch-count 2000 \
  .gpu/grpo bench generate --model $Q --load-in-4bit > /tmp/ncu.csv 2>/dev/null
python3 - <<'PY' | tee "$OUT/ncu_summary.txt"
import csv, collections
rows = [r for r in csv.reader(open("/tmp/ncu.csv")) if len(r) > 10]
if not rows: raise SystemExit("no ncu rows")
hdr = rows[0]; ki = hdr.index("Kernel Name"); vi = hdr.index("Metric Value")
tot = collections.Counter(); cnt = collections.Counter()
for r in rows[1:]:
    try: v = float(r[vi].replace(",", ""))
    except ValueError: continue
    name = r[ki].split("(")[0][:60]; tot[name] += v; cnt[name] += 1
s = sum(tot.values())
print(f"{sum(cnt.values())} kernels, {s/1e6:.2f} ms total")
for k, v in tot.most_common(25): print(f"{v/1e3:10.1f} us {cnt[k]:6d}x  {k}")
PY
