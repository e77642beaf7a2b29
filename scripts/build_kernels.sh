#!/bin/bash
# Builds kernels/*.cu into PTX for sm_90 (H100/H200), embedded by package kernels. The PTX is
# committed, so neither users nor CI need a CUDA compiler; rerun this after editing a kernel.
#   nvcc (CUDA ≥ 11.8):  scripts/build_kernels.sh            (uses nvcc when on PATH)
#   clang ≥ 16 + CUDA headers:  CUDA_PATH=/path/with/include/cuda.h scripts/build_kernels.sh
#   (scripts/setup_cuda_toolchain.sh prepares that folder and ptxas from Debian's packages)
# (../shared/docs/gpu-and-build.md: Debian's nvidia-cuda-dev gives the headers and
# nvidia-cuda-toolkit gives nvvm/libdevice/libdevice.10.bc and ptxas; clang needs a folder with
# include/, bin/ and nvvm/libdevice/libdevice.10.bc. libdevice must be linked: without it expf,
# sqrtf, __uint_as_float... stay unresolved externs and the driver refuses the PTX as InvalidPtx.)
# Each PTX is then assembled with ptxas when one is on PATH (or $PTXAS), which catches what the
# driver would refuse at load time.
set -eu
cd "$(dirname "$0")/../kernels"
for cu in *.cu; do
  out=${cu%.cu}.ptx
  if command -v nvcc >/dev/null; then
    nvcc -std=c++17 -arch=sm_90 -O3 -ptx -o "$out" "$cu"
  else
    clang=$(command -v clang-16 || command -v clang)
    "$clang" -x cuda --cuda-device-only --cuda-gpu-arch=sm_90 --cuda-path="${CUDA_PATH:?set CUDA_PATH}" \
      -std=c++17 -O3 -S -Wno-unknown-cuda-version -o "$out" "$cu"
  fi
  if grep -q "^\.extern \.func" "$out"; then
    echo "kernels/$out has unresolved functions (libdevice not linked?):" >&2
    grep "^\.extern \.func" "$out" >&2; exit 1
  fi
  ptxas=${PTXAS:-$(command -v ptxas || true)}
  [ -n "$ptxas" ] && "$ptxas" -arch=sm_90 -o /dev/null "$out"
  echo "built kernels/$out"
done
