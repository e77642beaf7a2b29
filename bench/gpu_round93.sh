#!/bin/bash
# Device call (twenty-second session):
#   (1) the grid barrier of a persistent decode kernel (kernels/grid_barrier.cuh): TestGridBarrier
#       under cooperative launches, then BenchmarkGridBarrier (µs per barrier at 1, 2, 4 blocks per
#       SM and the most the card holds; µs per launch for scale). A launch that ignored the
#       cooperative attribute would hang the test's too-large grid: hence its own short limit.
#       Then decode_mlp_n8 (a layer's MLP half in one cooperative launch with one barrier):
#       TestDecodeMLP against the four launches, and BenchmarkDecodeMLP (28 layers of the 1.5B
#       shape at batch 8 in one graph, µs per layer, against the four launches).
#   (2) the build after the losers of rounds 90 and 92 were removed (bench/round90-s64-w8.patch,
#       bench/round92-rope-attn.patch): the kernels' GPU tests (not the decoder's, ~600 s for all
#       18 cases; DECODER=1 adds its NF4 cases on two architectures), the 1.5B batch-8 LoRA step.
# ~330 s: run with timeout_s 360. Build: scripts/build_gpu_binaries.sh, then keep only
# .gpu/grpo-cuda.gz and .gpu/cuda.test.gz.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 40 '^TestGridBarrier$' grid
cuda_bench 40 '^BenchmarkGridBarrier$'
cuda_tests 60 '^TestDecodeMLP$' mlp
cuda_bench 60 '^BenchmarkDecodeMLP$'
cuda_tests 90 '^(TestDevicePtr|TestNF4Dequant|TestNF4GEMV|TestNF4GEMVGroup|TestRMSNorm|TestRopeCache|TestAttentionDecode|TestAttentionDecodeSharedPrompts|TestElementwise|TestGEMVBF16AndLoRADown|TestProfile|TestResidualRMSNorm|TestResidualRMSNormLoRA|TestSwiGLULoRA|TestAllocatorStats|TestSampleMatchesGraph)$' kernels
[ "${DECODER:-0}" = 1 ] && cuda_tests 110 'TestDecoderMatchesGoMLX/(qwen2_gqa_tied_bias|phi3_gqa_fused)/nf4$' decoder
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_STEP_IO=sync --repeat 3
echo "all done at ${SECONDS}s"
pack_out
