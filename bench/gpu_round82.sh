#!/bin/bash
# Device call (eighteenth session): the headline figures after round 80's prmt dequantization was
# adopted (kernels/nf4_mma.cu: w = bf16(bf16(NF4[code]) · bf16(absmax)), bitsandbytes' inference
# rounding, register lookups by prmt, one fma.rn.bf16x2 per pair), each beside the peer's
# (transformers + PEFT, bench/hf_grpo_step.py) from the same call:
#   (1) 3B NF4 batch-64 generation: the committed build ("head") against the replaced
#       dequantization ("dqt": HEAD~'s kernels/nf4_mma.ptx in .gpu/ptx-dqt), head first and last;
#       then the peer's generation figures (hf_grpo_step.py gen).
#   (2) GRPO steps, Qwen2.5-1.5B then Llama-3.1-8B shapes, each followed by the peer's step.
# ~520 s: run with timeout_s 590.
# Build first (.gpu must stay under the carry limit with the tracked files: only these):
#   go build -ldflags="-s -w" -tags cuda -o .gpu/grpo-cuda ./cmd/grpo && gzip -9 .gpu/grpo-cuda
#   mkdir -p .gpu/ptx-dqt && git show OLD:kernels/nf4_mma.ptx > .gpu/ptx-dqt/nf4_mma.ptx
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b llama3.1-8b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 0 "dqt" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --repeat 3
echo "generation done at ${SECONDS}s"
timeout 100 python3 bench/hf_grpo_step.py gen 2>&1 | grep --line-buffered '^{'
echo "peer generation done at ${SECONDS}s"
run_logged grpo-1.5b 150 "" grpo-cuda bench grpo --model $CK/qwen2.5-1.5b --steps 3 --every 1
timeout 70 python3 bench/hf_grpo_step.py grpo:qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
echo "1.5b done at ${SECONDS}s"
run_logged grpo-8b 200 "" grpo-cuda bench grpo --model $CK/llama3.1-8b --steps 3 --every 1
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 510 ] && timeout $((585 - SECONDS)) python3 bench/hf_grpo_step.py grpo:llama3.1-8b 2>&1 | grep --line-buffered '^{'
echo "all done at ${SECONDS}s"
pack_out
