#!/bin/bash
# Next device call (written in the fifth session, not yet run; issues 7 item 2 and 4 item 6): the
# GRPO step after the two memory changes of the fifth session — the NF4 dequantization tied to the
# layer input with a SchedulingBarrier (round 15: the 8B gradient executable's temporaries 16.6 →
# 3.7 GiB, but no step was timed) and each layer's outgoing gradient waiting on its adapter
# gradients (model/gradorder.go; not yet on a GPU) — on the Qwen2.5-1.5B shape (XLA's HLO dumped and
# its peak buffers listed by scripts/hlo_liveness.py) and the Llama-3.1-8B shape, each beside
# transformers + PEFT. First the GPU tests of what changed in the decoder since the last test run
# (lora_down3: one launch for the q/k/v and the gate/up LoRA down-projections). Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
RUN='GEMVBF16AndLoRADown|DecoderMatchesGoMLX|AllocatorStats' BENCH=NONE GEN=0 TEST_S=200 bash bench/gpu_kernels.sh
echo "tests done at ${SECONDS}s"
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
XLA_FLAGS="--xla_dump_to=/tmp/dump --xla_dump_hlo_as_text" run_logged grpo-cuda-1.5b 120 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3; xla_mem grpo-cuda-1.5b
f=$(ls -S /tmp/dump/*after_optimizations.txt 2>/dev/null | head -1)
[ -n "$f" ] && python3 scripts/hlo_liveness.py "$f" 12 | tee "$OUT/liveness-1.5b.txt"
timeout 80 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged grpo-cuda-8b 200 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2; xla_mem grpo-cuda-8b
timeout $((590 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
} | tee "$OUT/round16.jsonl"
echo "all done at ${SECONDS}s"
