#!/bin/bash
# Device call: bf16 matmul rate (PyTorch beside GoMLX, TF32 flag on/off), CUDA float32 goldens with
# TF32 off, and the main job (`grpo train`, tiny model) on the GPU backend.
set -u
source "$(dirname "$0")/gpu_common.sh"
{
python3 - <<'PY'
import json, torch, time
n = 8192
a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16); b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
for _ in range(3): a @ b
torch.cuda.synchronize(); t = time.time()
for _ in range(20): a @ b
torch.cuda.synchronize(); dt = (time.time() - t) / 20
print(json.dumps(dict(kind="matmul", impl="torch", n=n, ms=round(dt * 1000, 3), tflops=round(2 * n**3 / dt / 1e12, 1))))
PY
GOMLX_BACKEND="xla:$PLUGIN" .gpu/grpo bench matmul 2>/dev/null
GOMLX_BACKEND="xla:$PLUGIN,tf32=false" .gpu/grpo bench matmul 2>/dev/null
} | tee "$OUT/matmul.jsonl"
echo "== cuda goldens, tf32=false"
(cd gomlxgrpo/model && GOMLX_BACKEND="xla:$PLUGIN,tf32=false" GOMLXGRPO_DTYPE=float32 ../../.gpu/model.test -test.v -test.run 'Golden' 2>&1 | grep -E "worst|^(---|ok|FAIL|PASS)" | sort | uniq -c | sort -rn | head -12) | tee "$OUT/cuda_golden_tf32off.txt"
echo "== main job on the GPU backend (auto-detected plugin)"
( time .gpu/grpo train --output /tmp/gpu-run --max-steps 30 ) 2>&1 | tr '\r' '\n' | grep -v "^W1127\|nvidia/ subdirectory" | tail -6 | tee "$OUT/train_gpu.txt"
cp /tmp/gpu-run/metrics.jsonl "$OUT/train_gpu_metrics.jsonl" 2>/dev/null
