#!/bin/bash
# Device call (written at the end of the tenth session, not yet run): the batch-8 NF4 forms with
# x staged by cp.async (every copy of a block's slice in flight at once, instead of one L2 round
# trip per 4 vectors per thread) and the LoRA epilogue's rows prefetched into L1 at the start
# (kernels/nf4_mma.cu; registers 95/96 -> 80/72). Against the previous kernels (built from
# $OLD, default the commit before them) on the same machine. Build first:
#   scripts/build_gpu_binaries.sh && OLD=a887b74 scripts/build_gpu_binaries.sh old && rm -f .gpu/grpo.gz .gpu/model.test.gz
# (the carry limit is 64 MiB), then run it with carry [".gpu"].
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 150 'TestNF4GEMV$|TestNF4GEMVGroup|TestResidualRMSNormLoRA|TestSwiGLULoRA'
echo "tests done at ${SECONDS}s"
(cd gomlxgrpo/cuda
for l in qwen1.5b-b8 llama8b-b8; do
  for bin in cuda-old.test cuda.test; do
    GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=$l timeout 90 ../../.gpu/$bin -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 200x 2>&1 | grep -E '^Benchmark|FAIL|panic' | sed "s/^/$bin /"
  done
done)
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.1-8b 2>&1 | grep --line-buffered '^{'
for v in old new old new; do
  bin=grpo-cuda; [ $v = old ] && bin=grpo-cuda-old
  run_logged b8-1.5b-$v 60 "" $bin bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16
done
for v in old new; do
  bin=grpo-cuda; [ $v = old ] && bin=grpo-cuda-old
  run_logged b8-8b-$v 100 "" $bin bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16
done
# Registers now allow 7 blocks of the warp-tile form per SM (72): its sizing's 4, against 6.
[ $SECONDS -lt 430 ] && run_logged b8-8b-blocks6 $((580 - SECONDS)) "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_N8W_BLOCKS=6 --repeat 2
echo "generation done at ${SECONDS}s"
# Then, in the next call: TestDecoderMatchesGoMLX (~300 s) and the GRPO steps beside the peer.
echo "all done at ${SECONDS}s"
