#!/bin/bash
# Device call (thirteenth session; issue 7): the GRPO step with shared_prompt (each prompt once in
# the log-prob and training passes, model.ForwardShared). Its CPU test on the card first
# (TestSharedPromptMatchesRows through XLA's CUDA backend), then the 8B step shared and, in the same
# process, with the prompt repeated per row (--then-rows), transformers + PEFT in the same call,
# then Phi-4 shared. --steps 3: the last step's figures (the first compiles).
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
(cd gomlxgrpo/grpo && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout 90 ../../.gpu/grpo.test -test.v -test.run 'TestSharedPromptMatchesRows|TestLogPsByMicroBatch' > "$OUT/tests-grpo.txt" 2>&1; echo "rc=$?" >> "$OUT/tests-grpo.txt")
grep -E '^(---|ok|FAIL|PASS|rc=)|_test.go|panic' "$OUT/tests-grpo.txt" | head
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
run_logged grpo-8b 240 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --then-rows 2
echo "8b done at ${SECONDS}s"
timeout 150 python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "peer done at ${SECONDS}s"
[ $SECONDS -lt 400 ] && run_logged grpo-phi4 $((590 - SECONDS)) "" grpo-cuda bench grpo --model $CK/phi-4 --steps 3
echo "all done at ${SECONDS}s"
