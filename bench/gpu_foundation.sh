#!/bin/bash
# One device call for the foundation issue: transformers goldens, the golden tests on the CUDA
# backend, and load/forward benchmarks beside transformers. Expects Go binaries built here in .gpu/
# (go build -o .gpu/grpo ./cmd/grpo; go test -c -o .gpu/model.test ./gomlxgrpo/model).
set -u
source "$(dirname "$0")/gpu_common.sh"
export GOMLX_BACKEND="xla:$PLUGIN" GOMLX_NO_AUTO_INSTALL=1
echo "== goldens"
python3 scripts/make_model_goldens.py gomlxgrpo/model/testdata/models 2>&1 | tail -15
tar czf "$OUT/goldens.tgz" gomlxgrpo/model/testdata/models
echo "== golden tests on CUDA (float32, TF32 off)"
(cd gomlxgrpo/model && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" GOMLXGRPO_DTYPE=float32 ../../.gpu/model.test -test.v -test.run 'Golden|Cache' 2>&1 | grep -v "^=== RUN" | tail -40) | tee "$OUT/cuda_golden.txt"
echo "== benchmarks"
CK=/tmp/ck; python3 bench/hf_foundation.py make $CK 2>&1 | grep -v Warning | tail -3
{
python3 bench/hf_foundation.py load $CK/llama3.1-8b 2>&1 | grep '^{'
.gpu/grpo bench load --model $CK/llama3.1-8b 2>&1 | tail -2
python3 bench/hf_foundation.py forward $CK/qwen2.5-1.5b 8 512 2>&1 | grep '^{'
.gpu/grpo bench forward --model $CK/qwen2.5-1.5b --batch 8 --seq 512 2>&1 | tail -2
} | tee "$OUT/bench.jsonl"
