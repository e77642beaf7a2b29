#!/bin/bash
# Next device call (written in the fourth session, not yet run; issue 7 items 1, 2, 4): the
# Qwen2.5-1.5B-shape step after the LoRA kernel changes, then the Llama-3.1-8B-shape GRPO step
# after the dequantization is recomputed in the backward pass
# (gomlxgrpo/model/nf4.go recomputedWeight) — XLA's per-executable memory (the gradient
# executable had 16.6 GiB of temporaries) and nvidia-smi's figure — beside transformers + PEFT,
# then the Phi-4 step with the time its loading and compilation need. Build first:
# scripts/build_gpu_binaries.sh
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
xla_mem() { grep -E 'Temporary:[0-9.]+ GiB' "$OUT/$1.log" | sed 's/.*Memory usage/Memory usage/' | head -5; }
if [ "${PHI:-0}" = 1 ]; then
  python3 bench/hf_foundation.py make $CK phi-4 2>&1 | grep --line-buffered '^{'
  { run_logged grpo-cuda-phi4 480 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/phi-4 --steps 2; xla_mem grpo-cuda-phi4; } | tee "$OUT/round14-phi4.jsonl"
  exit 0
fi
(cd gomlxgrpo/cuda && GOMLX_BACKEND="xla:$PLUGIN" timeout 60 ../../.gpu/cuda.test -test.v -test.run 'AllocatorStats|DevicePtr' 2>&1 | grep -E -- '^(---|ok|FAIL|PASS)|_test.go|panic' | head -12)
{
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
run_logged grpo-cuda-1.5b 100 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3  # the LoRA kernels' effect
run_logged grpo-cuda-8b 330 GOMLXGRPO_XLA_LOG=1 grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 2; xla_mem grpo-cuda-8b
timeout $((480 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
timeout $((540 - SECONDS)) python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
# issue 4 item 6: the 8B shape's NF4 (double quant) + LoRA r=16 load, with XLA's own peak bytes in use
run_logged load-8b-nf4 $((590 - SECONDS)) "" grpo-cuda bench load --model $CK/llama3.1-8b --load-in-4bit --double-quant --lora-r 16
} | tee "$OUT/round14.jsonl"
echo "all done at ${SECONDS}s (Phi-4: PHI=1 runs it alone, ours with 480 s)"
