#!/bin/bash
# Device call (nineteenth session): (1) the whole gomlxgrpo/cuda test suite with the rows-per-block
# attention forms as the default; (2) where the GRPO step's optimizer time goes: one AdamW
# executable (gomlx optimizer.Adam, as the trainer builds it) over N variables of one shape, N and
# the shape varied at equal and unequal element counts (bench/adambuffers, built as .gpu/ovh), with a Go
# CPU profile of the host; (3) the 1.5B GRPO step with a Go CPU profile of steps 2–4.
set -u
source "$(dirname "$0")/gpu_common.sh"
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 220 ../../.gpu/cuda.test -test.v -test.run . -test.bench '^$' > "$OUT/cuda_tests.txt" 2>&1; echo "rc=$?" >> "$OUT/cuda_tests.txt")
grep -v "^=== RUN" "$OUT/cuda_tests.txt" | grep -E -- "^(--- FAIL|ok|FAIL|PASS|rc=|panic)|_test.go" | head -30
grep -c -- '--- PASS' "$OUT/cuda_tests.txt"
echo "tests done at ${SECONDS}s"
export GOMLX_BACKEND="xla:$PLUGIN"
for a in "1 2 2" "400 2 2" "1600 2 2" "400 16 1536" "1 6400 1536" "1600 16 1536"; do
  PROF=$OUT/ovh-$(echo $a | tr ' ' _).prof timeout 60 .gpu/ovh $a 2>&1 | grep -E '^\{|rror|panic'
done
rm -f $OUT/ovh-1_*.prof $OUT/ovh-1600_*.prof $OUT/ovh-400_16_1536.prof
echo "ovh done at ${SECONDS}s"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 4 --cpuprofile $OUT/grpo-1.5b.prof
echo "all done at ${SECONDS}s"
pack_out ovh-400_2_2.prof grpo-1.5b.prof
