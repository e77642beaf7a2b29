#!/bin/bash
# Builds what the device scripts in bench/ carry to the GPU machine (which has no Go), into .gpu/:
# grpo (default build), grpo-cuda and cuda.test (build tag cuda, needing CUDA headers and the
# driver's link stub: ../shared/docs/gpu-and-build.md, e.g. Debian's nvidia-cuda-dev unpacked into
# $CUDA_DEV), model.test, grpo.test; gzipped to fit the 64 MiB transfer. Run from the repository root.
# With the argument "old": adds grpo-cuda-old and cuda-old.test built from commit $OLD (default
# HEAD, i.e. without uncommitted changes) in a temporary worktree, for A/B timings on one card.
# With "patch NAME FILE.patch": adds cuda-NAME.test and grpo-cuda-NAME, built from HEAD with the
# patch applied and its kernels rebuilt (scripts/build_kernels.sh: CUDA_PATH, clang, PTXAS), for a
# variant whose Go code or tests changed too (a PTX-only variant: scripts/build_ptx_variant.sh).
set -eu
CUDA_DEV=${CUDA_DEV:-/work/cuda-dev/usr}
if [ ! -f "$CUDA_DEV/include/cuda.h" ]; then
  cat >&2 <<MSG
no CUDA headers at $CUDA_DEV/include: run scripts/setup_cuda_toolchain.sh (Debian's
nvidia-cuda-dev and nvidia-cuda-toolkit, unpacked) and set CUDA_DEV as it says, or set CUDA_DEV to a
folder with include/cuda.h and lib/x86_64-linux-gnu/stubs/libcuda.so)
MSG
  exit 1
fi
export CGO_CFLAGS="-I$CUDA_DEV/include" CGO_LDFLAGS="-L$CUDA_DEV/lib/x86_64-linux-gnu/stubs"
# tree_build NAME COMMIT [FILE.patch]: .gpu/grpo-cuda-NAME and .gpu/cuda-NAME.test built from
# COMMIT in a temporary worktree, with the patch applied and the kernels rebuilt when one is given.
tree_build() {
  local root tree name=$1 ref=$2 patch=${3:-}
  root=$(pwd) tree=$(mktemp -d)
  git worktree add -q --detach "$tree" "$ref"
  (cd "$tree" && { [ -z "$patch" ] || { git apply "$root/$patch" && scripts/build_kernels.sh >/dev/null; }; } &&
    go build -ldflags="-s -w" -tags cuda -o "$root/.gpu/grpo-cuda-$name" ./cmd/grpo &&
    go test -ldflags="-s -w" -tags cuda -c -o "$root/.gpu/cuda-$name.test" ./gomlxgrpo/cuda)
  git worktree remove --force "$tree"
  gzip -9 -f ".gpu/grpo-cuda-$name" ".gpu/cuda-$name.test"
  ls -la .gpu
}
case "${1:-}" in
old) tree_build old "${OLD:-HEAD}"; exit 0 ;;
patch) tree_build "$2" HEAD "$3"; exit 0 ;;
esac
mkdir -p .gpu && find .gpu -maxdepth 1 -type f -delete  # keeps .gpu/ptx-* (scripts/build_ptx_variant.sh)
go build -ldflags="-s -w" -o .gpu/grpo ./cmd/grpo
go test -ldflags="-s -w" -c -o .gpu/model.test ./gomlxgrpo/model
go test -ldflags="-s -w" -c -o .gpu/grpo.test ./gomlxgrpo/grpo
go build -ldflags="-s -w" -tags cuda -o .gpu/grpo-cuda ./cmd/grpo
go test -ldflags="-s -w" -tags cuda -c -o .gpu/cuda.test ./gomlxgrpo/cuda
find .gpu -maxdepth 1 -type f ! -name '*.gz' -exec gzip -9 -f {} +
ls -la .gpu
