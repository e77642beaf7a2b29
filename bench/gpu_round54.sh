#!/bin/bash
# Device call (written in the twelfth session after its device time ran out; not yet run): where the
# 8B batch-8 decode step's time goes outside the NF4 matmuls, and what round 52's opt-in kernels
# change there. (1) The step's profile with each (GOMLXGRPO_CUDA_PROFILE=1: kernels launched one by
# one, CUDA events around each, so each figure carries a launch). (2) Nsight Compute's kernel
# durations (gpu__time_duration, no launch in it) of the short kernels of one step replayed from
# its graph, default kernels and both opt-in ones. Build first:
#   scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
python3 bench/hf_foundation.py make $CK llama3.1-8b 2>&1 | grep --line-buffered '^{'
for e in "" GOMLXGRPO_NORM=regs GOMLXGRPO_SWIGLU=split; do
  l=${e#GOMLXGRPO_}; l=profile-8b${l:+-${l//=/-}}
  [ $SECONDS -lt 300 ] && run_logged $l 60 "GOMLXGRPO_CUDA_PROFILE=1 $e" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --new 50
  grep 'cuda profile' "$OUT/$l.log" | head -12
done
echo "profiles done at ${SECONDS}s"
# One decode step's short kernels (6 per layer × 32 layers ≈ 200 launches after the first step's).
for e in "" "GOMLXGRPO_NORM=regs GOMLXGRPO_SWIGLU=split"; do
  l=ncu-8b${e:+-optin}
  [ $SECONDS -lt 480 ] && env $e timeout 110 $NCU --clock-control none --metrics gpu__time_duration.sum \
    -k 'regex:rmsnorm|swiglu|attention|rope|lora_down' --launch-skip 200 --launch-count 200 --csv --page raw \
    .gpu/grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --new 4 > "$OUT/$l.csv" 2>&1
  echo "$l rc=$? at ${SECONDS}s"
  # Mean µs per kernel name (the CSV's "Kernel Name" and "gpu__time_duration.sum" columns, ns).
  python3 - "$OUT/$l.csv" <<'PY'
import csv, sys, collections
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
heads = [i for i, r in enumerate(rows) if "Kernel Name" in r and "gpu__time_duration.sum" in r]
if not heads: sys.exit(print("no ncu table"))
h = rows[heads[0]]; rows = rows[heads[0]:]; name, dur = h.index("Kernel Name"), h.index("gpu__time_duration.sum")
t = collections.defaultdict(list)
for r in rows[1:]:
    try: ns = float(r[dur].replace(",", ""))
    except (ValueError, IndexError): continue
    t[r[name]].append(ns)
for k, v in sorted(t.items(), key=lambda kv: -sum(kv[1])):
    print(f"{k:40s} {len(v):4d} calls {sum(v)/len(v)/1000:8.2f} us/call")
PY
done
# Issue 6: the 3B batch-64 step's attention (106 µs per layer in the ninth session, ~5× the time
# its K and V bytes take at the card's copy rate): Nsight Compute's speed-of-light, occupancy and
# warp-state sections on 4 of its launches.
python3 bench/hf_foundation.py make $CK llama3.2-3b 2>&1 | grep --line-buffered '^{'
[ $SECONDS -lt 500 ] && timeout 100 $NCU --clock-control none --section SpeedOfLight --section Occupancy --section WarpStateStats \
  -k regex:attention_decode --launch-skip 60 --launch-count 4 --page details \
  .gpu/grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --lora-r 16 --new 4 > "$OUT/ncu-3b-b64-attention.txt" 2>&1
grep -E 'attention_decode|Duration|DRAM Throughput|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Warp Cycles Per Issued|Stall' "$OUT/ncu-3b-b64-attention.txt" | head -40
echo "all done at ${SECONDS}s"
