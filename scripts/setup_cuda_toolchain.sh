#!/bin/bash
# Sets up, on a machine without a GPU or NVIDIA's installer, what building the CUDA parts needs:
# Debian's nvidia-cuda-dev (headers, the driver's link stub) and nvidia-cuda-toolkit (libdevice and
# ptxas, CUDA 11.8: enough for sm_90 PTX), unpacked under $DIR (default /work/cuda), plus clang-16
# to compile kernels/*.cu to PTX. Prints the variables scripts/build_kernels.sh and
# scripts/build_gpu_binaries.sh take. Needs Debian's non-free components in the apt sources.
set -eu
DIR=${DIR:-/work/cuda}
mkdir -p "$DIR/deb"
cd "$DIR/deb"
command -v clang-16 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-16 >/dev/null
[ -f "$DIR/root/usr/include/cuda.h" ] || {
  apt-get download nvidia-cuda-dev nvidia-cuda-toolkit 2>/dev/null
  for d in nvidia-cuda-dev_*.deb nvidia-cuda-toolkit_*.deb; do dpkg -x "$d" "$DIR/root"; done
}
# clang's --cuda-path wants include/, bin/ and nvvm/libdevice/libdevice.10.bc in one folder.
mkdir -p "$DIR/path/bin" "$DIR/path/nvvm/libdevice"
ln -sfn "$DIR/root/usr/include" "$DIR/path/include"
cp "$DIR/root/usr/lib/nvidia-cuda-toolkit/libdevice/libdevice.10.bc" "$DIR/path/nvvm/libdevice/"
cat <<MSG
CUDA build tools ready under $DIR. Use:
  CUDA_PATH=$DIR/path PTXAS=$DIR/root/usr/bin/ptxas scripts/build_kernels.sh
  CUDA_DEV=$DIR/root/usr scripts/build_gpu_binaries.sh
MSG
