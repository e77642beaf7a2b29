#!/bin/bash
# Device call (eleventh session; the change it timed was slower and is reverted: bench/RESULTS.md,
# round 48): the warp-tile batch-8 NF4 forms (n8w, n8gw: the 8B and Phi-4
# shapes) dequantizing through a 256-entry table of value pairs indexed by the code byte
# (load_nf4_bytes: one 8-byte lookup per byte, ~3 instructions per weight instead of ~4.5; 32 KiB
# of static shared memory, so Init now raises each kernel's dynamic shared memory limit), against
# the committed kernels (base) on one machine, one binary through GOMLXGRPO_PTX_DIR. Build:
# scripts/build_gpu_binaries.sh without grpo/model.test, .gpu/ptx-{base,tab}/nf4_mma.ptx.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 90 'TestNF4GEMV$|TestNF4GEMVGroup'
(cd gomlxgrpo/cuda
for l in llama8b-b8 phi4-b8; do
  for v in base tab; do
    GOMLXGRPO_PTX_DIR=$OLDPWD/.gpu/ptx-$v GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=$l timeout 90 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections' -test.benchtime 300x 2>&1 | grep -E '^Benchmark|FAIL|panic' | sed "s/^/$v /"
  done
done)
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.1-8b phi-4 2>&1 | grep --line-buffered '^{'
for v in base tab tab base; do
  run_logged b8-8b-$v 100 "GOMLXGRPO_PTX_DIR=$PWD/.gpu/ptx-$v" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.1-8b --lora-r 16 --ab GOMLXGRPO_NOTHING=1 --repeat 3
done
echo "8b done at ${SECONDS}s"
for v in base tab; do
  [ $SECONDS -lt 480 ] && run_logged b8-phi4-$v 90 "GOMLXGRPO_PTX_DIR=$PWD/.gpu/ptx-$v" grpo-cuda bench generate --load-in-4bit --model $CK/phi-4 --lora-r 16 --ab GOMLXGRPO_NOTHING=1 --repeat 3
done
echo "all done at ${SECONDS}s"
