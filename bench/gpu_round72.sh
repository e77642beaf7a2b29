#!/bin/bash
# Device call (written in the fifteenth session after its device time ran out; not yet run):
# issue 7's Phi-4 GRPO step with the fifteenth session's attention and finish changes, beside the
# peer's on the same card (the peer's Phi-4 step has only run on an H100 so far). The fifteenth
# session's own attempt ran out of time in the first step, which compiles XLA's executables for
# ~120 s on this shape: give it the call. ~360 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-phi4 300 "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3 --every 1
echo "phi-4 done at ${SECONDS}s"
[ $SECONDS -lt 440 ] && timeout $((525 - SECONDS)) python3 bench/hf_grpo_step.py grpo:phi-4 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
