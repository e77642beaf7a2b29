#!/bin/bash
# Builds kernels/*.cu into PTX for sm_90 (H100/H200), embedded by package kernels. The PTX is
# committed, so neither users nor CI need a CUDA compiler; rerun this after editing a kernel.
#   nvcc (CUDA ≥ 11.8):  scripts/build_kernels.sh            (uses nvcc when on PATH)
#   clang ≥ 16 + CUDA headers:  CUDA_PATH=/path/with/include/cuda.h scripts/build_kernels.sh
# (../shared/docs/gpu-and-build.md: Debian's nvidia-cuda-dev gives the headers; clang needs a
# folder with include/, bin/ and nvvm/libdevice/, which may be empty apart from include/.)
set -eu
cd "$(dirname "$0")/../kernels"
for cu in *.cu; do
  out=${cu%.cu}.ptx
  if command -v nvcc >/dev/null; then
    nvcc -arch=sm_90 -O3 -ptx -o "$out" "$cu"
  else
    clang=$(command -v clang-16 || command -v clang)
    "$clang" -x cuda --cuda-device-only --cuda-gpu-arch=sm_90 --cuda-path="${CUDA_PATH:?set CUDA_PATH}" \
      -nocudalib -O3 -S -Wno-unknown-cuda-version -o "$out" "$cu"
  fi
  echo "built kernels/$out"
done
