#!/bin/bash
# Builds another version of the kernels' PTX into .gpu/ptx-NAME/, for one binary to time several
# kernel builds on one card (gomlxgrpo/cuda's Init loads a module from $GOMLXGRPO_PTX_DIR when that
# folder has its file; the GPU machine has no Go to rebuild with). Only the modules that differ from
# the working tree's are kept.
#   scripts/build_ptx_variant.sh NAME COMMIT          the PTX committed at COMMIT
#   scripts/build_ptx_variant.sh NAME FILE.patch      HEAD with the patch applied, rebuilt
# (the second needs what scripts/build_kernels.sh needs: CUDA_PATH, clang ≥ 16, PTXAS optional).
# Run from the repository root.
set -eu
name=$1 from=$2 root=$(pwd)
out="$root/.gpu/ptx-$name"
rm -rf "$out" && mkdir -p "$out"
if [ -f "$from" ]; then
  tree=$(mktemp -d)
  git worktree add -q --detach "$tree" HEAD
  (cd "$tree" && git apply "$root/$from" && scripts/build_kernels.sh >/dev/null && cp kernels/*.ptx "$out/")
  git worktree remove --force "$tree"
else
  for f in kernels/*.ptx; do git show "$from:$f" > "$out/$(basename "$f")"; done
fi
for f in "$out"/*.ptx; do cmp -s "$f" "kernels/$(basename "$f")" && rm "$f"; done
ls "$out"
