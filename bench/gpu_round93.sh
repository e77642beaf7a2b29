#!/bin/bash
# Device call (written in the twenty-second and twenty-third sessions; not yet run), the deciding
# figures first:
#   (1) TestGridBarrier (cooperative launches; a launch that ignored the attribute would hang its
#       too-large grid: hence its own short limit), TestDecodeMLP and TestDecodeMLPRefuses
#       (decode_mlp_n8 against the decoder's launches, with LoRA, the next norm, the o projection).
#   (2) the 1.5B batch-8 LoRA decode step, default against GOMLXGRPO_DECODE_MLP=mlp, =fused (with
#       the next norm) and =fused+o (and the o projection), each pair in one process.
#   (3) BenchmarkGridBarrier (µs per barrier at 1, 2, 4 blocks per SM and the most the card holds;
#       µs per launch for scale), BenchmarkDecodeMLP (28 layers of the 1.5B shape at batch 8 in
#       one graph, µs per layer, fused against the launches), TestDecoderFusedMLP (the decoder's
#       checks in each mode on random Llama and Qwen2 checkpoints whose MLP it takes).
#   (4) the kernels' GPU tests (regression, if under 450 s by then; DECODER=1 adds the decoder's
#       NF4 cases on two architectures, ~110 s).
# ~420 s: run with timeout_s 590. Build: scripts/build_gpu_binaries.sh, then keep only
# .gpu/grpo-cuda.gz and .gpu/cuda.test.gz.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 40 '^TestGridBarrier$' grid
cuda_tests 100 '^TestDecodeMLP(Refuses)?$' mlp
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b-mlp 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_DECODE_MLP=mlp --repeat 3
run_logged b8-1.5b-fused 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_DECODE_MLP=fused --repeat 3
run_logged b8-1.5b-fused-o 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_DECODE_MLP=fused+o --repeat 3
echo "a/b done at ${SECONDS}s"
cuda_bench 40 '^BenchmarkGridBarrier$'
cuda_bench 60 '^BenchmarkDecodeMLP$'
cuda_tests 220 '^TestDecoderFusedMLP$' fused
echo "fused tests done at ${SECONDS}s"
[ $SECONDS -lt 450 ] && cuda_tests 90 '^(TestDevicePtr|TestNF4Dequant|TestNF4GEMV|TestNF4GEMVGroup|TestRMSNorm|TestRopeCache|TestAttentionDecode|TestAttentionDecodeSharedPrompts|TestElementwise|TestGEMVBF16AndLoRADown|TestProfile|TestResidualRMSNorm|TestResidualRMSNormLoRA|TestSwiGLULoRA|TestAllocatorStats|TestSampleMatchesGraph)$' kernels
[ "${DECODER:-0}" = 1 ] && cuda_tests 110 'TestDecoderMatchesGoMLX/(qwen2_gqa_tied_bias|phi3_gqa_fused)/nf4$' decoder
echo "all done at ${SECONDS}s"
pack_out
