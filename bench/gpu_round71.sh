#!/bin/bash
# Device call (written in the fifteenth session after its device time ran out; not yet run):
# measurements that no call has taken since this session's attention and finish changes, for
# choosing the next levers, and issue 7's Phi-4 step with its peer on the H200.
# (1) Per-kernel profiles of the 3B batch-64 decode step and the 1.5B batch-8 LoRA one
#     (GOMLXGRPO_CUDA_PROFILE=1: kernels launched one by one with CUDA events around each, so
#     each figure carries a launch; 50 new tokens).
# (2) Nsight Compute on nf4_mma_s64/s64g in one 3B layer at 64 rows: source counters exported
#     (round 68's text report held only the summaries: 25–28% excess global sectors, 19% excess
#     shared wavefronts), then printed per SASS instruction from the export as CSV.
# (3) The Phi-4 GRPO step (ours, then the peer's, never yet on this card).
# ~420 s. Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged profile-3b-b64 80 "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --new 50
grep 'cuda profile' "$OUT/profile-3b-b64.log" | head -16
run_logged profile-1.5b-b8-lora 60 "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --new 50
grep 'cuda profile' "$OUT/profile-1.5b-b8-lora.log" | head -16
echo "profiles done at ${SECONDS}s"
l=ncu-s64-export
(cd gomlxgrpo/cuda && GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=llama3b-b64 timeout 120 $NCU --clock-control none --section SourceCounters --section WarpStateStats \
  --import-source yes -k regex:nf4_mma_s64 --launch-skip 8 --launch-count 2 -o "$OUT/$l" -f \
  ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections/llama3b-b64/default$' -test.benchtime 6x > "$OUT/$l.txt" 2>&1)
echo "$l rc=$? at ${SECONDS}s"
timeout 60 $NCU -i "$OUT/$l.ncu-rep" --page source --csv --print-source sass > "$OUT/ncu-s64-sass.csv" 2>> "$OUT/$l.txt"
echo "sass page rc=$? lines $(wc -l < "$OUT/ncu-s64-sass.csv")"; tail -3 "$OUT/$l.txt"
# At most 8 files come back from $OUT: the export stays behind when the page was printed.
[ -s "$OUT/ncu-s64-sass.csv" ] && rm -f "$OUT/$l.ncu-rep"
echo "ncu done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-phi4 $((480 - SECONDS)) "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
echo "phi-4 done at ${SECONDS}s"
[ $SECONDS -lt 480 ] && timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:phi-4 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
