#!/bin/bash
# Device call (written in the eleventh session after its device time ran out; not yet run): the
# decoder's opt-in L2 prefetch of each matmul group's weights before the short kernels that precede
# it (kernels/l2_prefetch.cu, GOMLXGRPO_L2_PREFETCH=<MiB>: whole groups of at most that size), and
# programmatic dependent launch again (opt-in since round 32; the warp-tile forms now load their
# codes before pdl_wait), each as an A/B in one process on the 1.5B, 8B and Phi-4 shapes.
# The prefetches carry the evict-last priority; .gpu/ptx-l2normal has plain ones
# (bench/round50-evict-normal.patch), timed the same way on the 1.5B shape.
# Build: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh l2normal bench/round50-evict-normal.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 60 'TestL2Prefetch'
# The layer's projections back to back, each launch preceded by a prefetch of the next one's
# weights (lora16-l2pf) against none (lora16), both prefetch priorities.
for l in qwen1.5b-b8 llama8b-b8; do
  layer_bench evictlast $l 'NF4Projections/.*/lora16'
  layer_bench l2normal $l 'NF4Projections/.*/lora16' $(ptx_env l2normal)
done
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
# 32 MiB: every group of the 1.5B shape (gate/up 15.5 MiB with scales), the 8B and Phi-4 q/k/v and
# o groups (their gate/up and down are larger than L2 and are left alone).
run_logged b8-1.5b-l2 80 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_L2_PREFETCH=32 --repeat 3
run_logged b8-1.5b-l2normal 80 "$(ptx_env l2normal)" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_L2_PREFETCH=32 --repeat 3
run_logged b8-8b-l2 110 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_L2_PREFETCH=32 --repeat 3
run_logged b8-1.5b-pdl 80 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_PDL=1 --repeat 3
run_logged b8-8b-pdl 110 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_PDL=1 --repeat 3
# Both: the prefetch launch's own start overlaps the previous kernel under PDL.
run_logged b8-1.5b-pdl-l2 80 "GOMLXGRPO_PDL=1" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_L2_PREFETCH=32 --repeat 3
echo "8b done at ${SECONDS}s"
[ $SECONDS -lt 450 ] && run_logged b8-phi4-l2 $((590 - SECONDS)) "" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab GOMLXGRPO_L2_PREFETCH=32 --repeat 3
echo "all done at ${SECONDS}s"
# Then, if either is to become the default: TestDecoderMatchesGoMLX (~300 s; its case 3 runs
# both) and the GRPO steps beside the peer.
