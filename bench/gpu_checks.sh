#!/bin/bash
# Device call: GRPO loss goldens (PyTorch, TRL's formulas), a Go-written PEFT adapter loaded by
# transformers + PEFT, and the CUDA float32 golden comparison with TF32 forced off.
set -u
source "$(dirname "$0")/gpu_common.sh"
echo "== grpo goldens"; python3 scripts/make_grpo_goldens.py "$OUT/grpo.golden.json"
echo "== peft"; (cd gomlxgrpo/lora && GOMLX_BACKEND=go GOMLXGRPO_PEFT_FIXTURE=/tmp/peft ../../.gpu/lora.test -test.run WritePEFTFixture >/dev/null && echo fixture written)
python3 scripts/check_peft_adapter.py /tmp/peft 2>&1 | grep -v Warning | tee "$OUT/peft.txt"
echo "== cuda goldens, TF32 off"
(cd gomlxgrpo/model && GOMLX_BACKEND="xla:$PLUGIN" GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0 NVIDIA_TF32_OVERRIDE=0 GOMLXGRPO_DTYPE=float32 ../../.gpu/model.test -test.v -test.run 'Golden' 2>&1 | grep -E "worst|FAIL|PASS|ok" | sort | uniq -c | sort -rn | head -20) | tee "$OUT/cuda_golden_tf32off.txt"
