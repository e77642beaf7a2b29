#!/bin/bash
# Device call (written in the fourteenth session after its device time ran out; not yet run):
# issue 6's batch-64 matmuls (nf4_mma_s64, ~4.1 ms of the 8.1 ms 3B step; round 65: 8 active warps
# per SM, 0.55–0.97 waves), two kernel builds against the committed ones as PTX variants:
#   zu2:  bench/round67-finish-zu2.patch, the split-K finish of the 64-row tensor-core forms
#         (nf4_mma_s64, gemm_bf16_mma_n64) loading two splits' partials at a time instead of one
#         (the same order of addition, the same bits; 44 bytes of spills against 28). Emulator:
#         s64, s64g and the bf16 64-row form, splits 2 to 4.
#   regs: bench/round67-s64-regs.patch, nf4_mma_s64 and s64g with __launch_bounds__(128, 2)
#         instead of (128, 4): 150 and 164 registers, no spills (28 and 16 bytes at 128); the
#         launcher sizes the split for 2 blocks per SM anyway.
# Their GPU tests, one 3B layer at 64 rows per build (raw), the 3B batch-64 decode step per build
# in separate processes (head, zu2, regs, head), then Nsight Compute's warp-state and source
# counters on nf4_mma_s64 (round 65's report lacked the stall sampling). ~420 s.
# Build first: scripts/build_gpu_binaries.sh && rm -f .gpu/grpo.gz .gpu/model.test.gz .gpu/grpo.test.gz
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh zu2 bench/round67-finish-zu2.patch
#   CUDA_PATH=… PTXAS=… scripts/build_ptx_variant.sh regs bench/round67-s64-regs.patch
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
cuda_tests 90 'TestNF4GEMV$|TestNF4GEMVGroup|TestGEMVBF16AndLoRADown' zu2 $(ptx_env zu2)
cuda_tests 60 'TestNF4GEMV$|TestNF4GEMVGroup' regs $(ptx_env regs)
echo "tests done at ${SECONDS}s"
for v in head zu2 regs; do layer_bench $v llama3b-b64 'NF4Projections/llama3b-b64/' $(ptx_env $v); done
echo "layers done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK llama3.2-3b 2>&1 | grep --line-buffered '^{'
build_steps b64-3b 80 0 "zu2 regs" bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_S64_BLOCKS=2 --repeat 3
echo "generation done at ${SECONDS}s"
l=ncu-s64-source
(cd gomlxgrpo/cuda && GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER=llama3b-b64 timeout 120 $NCU --clock-control none --section WarpStateStats --section SourceCounters \
  -k regex:nf4_mma_s64 --launch-skip 8 --launch-count 4 ../../.gpu/cuda.test -test.run '^$' -test.bench 'NF4Projections/llama3b-b64/default$' -test.benchtime 6x > "$OUT/$l.txt" 2>&1)
echo "$l rc=$? at ${SECONDS}s"
grep -E 'nf4_mma_s64|Stall|stall|Warp Cycles|Issued' "$OUT/$l.txt" | head -60
echo "all done at ${SECONDS}s"
