#!/bin/bash
# Device call (twenty-second session): the build after the losers of rounds 90 and 92 were
# removed (the 8-warp 64-row NF4 form, the _rope attention forms; bench/round90-s64-w8.patch,
# bench/round92-rope-attn.patch). The default kernels' PTX is unchanged, but the launchers went
# back to their earlier code, so: (1) every GPU test of gomlxgrpo/cuda but the decoder's, then its NF4 cases on two architectures (all 18 take ~600 s); (2) the
# 1.5B batch-8 LoRA and 3B batch-64 decode steps. ~270 s (the 3B step only when time is left): run with timeout_s 300.
# DECODER=0 skips the decoder test (~110 s). Build: scripts/build_gpu_binaries.sh, then keep only .gpu/grpo-cuda.gz and .gpu/cuda.test.gz.
set -u
source "$(dirname "$0")/gpu_common.sh"
CK=/tmp/ck
cuda_tests 100 '^(TestDevicePtr|TestNF4Dequant|TestNF4GEMV|TestNF4GEMVGroup|TestRMSNorm|TestRopeCache|TestAttentionDecode|TestAttentionDecodeSharedPrompts|TestElementwise|TestGEMVBF16AndLoRADown|TestProfile|TestResidualRMSNorm|TestResidualRMSNormLoRA|TestSwiGLULoRA|TestAllocatorStats|TestSampleMatchesGraph)$' kernels
[ "${DECODER:-1}" = 1 ] && cuda_tests 110 'TestDecoderMatchesGoMLX/(qwen2_gqa_tied_bias|phi3_gqa_fused)/nf4$' decoder
echo "tests done at ${SECONDS}s"
python3 bench/hf_foundation.py make $CK qwen2.5-1.5b llama3.2-3b 2>&1 | grep --line-buffered '^{'
run_logged b8-1.5b 60 "" grpo-cuda bench generate --load-in-4bit --model $CK/qwen2.5-1.5b --lora-r 16 --ab GOMLXGRPO_STEP_IO=sync --repeat 3
[ $SECONDS -lt 200 ] && run_logged b64-3b 70 "" grpo-cuda bench generate --load-in-4bit --model $CK/llama3.2-3b --batch 64 --ab GOMLXGRPO_STEP_IO=sync --repeat 3
echo "all done at ${SECONDS}s"
pack_out
