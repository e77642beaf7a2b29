# Sourced by the bench/gpu_*.sh scripts: unpack the Go binaries carried in .gpu/, set $OUT, find
# JAX's CUDA PJRT plugin ($PLUGIN) and print the card's name.
for f in .gpu/*.gz; do [ -f "$f" ] && gunzip -f "$f"; done; chmod +x .gpu/* 2>/dev/null
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
PLUGIN=$(ls /opt/*/.venv/lib/python3*/site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so | tail -1)
export GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0
nvidia-smi --query-gpu=name --format=csv,noheader | tee "$OUT/card.txt"
