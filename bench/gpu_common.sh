# Sourced by the bench/gpu_*.sh scripts: unpack the Go binaries carried in .gpu/, set $OUT, find
# JAX's CUDA PJRT plugin ($PLUGIN) and print the card's name.
for f in .gpu/*.gz; do [ -f "$f" ] && gunzip -f "$f"; done; chmod +x .gpu/* 2>/dev/null
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/console.txt") 2>&1 # the console comes back too
PLUGIN=$(ls /opt/*/.venv/lib/python3*/site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so | tail -1)
export GOMLX_NO_AUTO_INSTALL=1 GOPJRT_CUDA_CHECKS=0
nvidia-smi --query-gpu=name --format=csv,noheader | tee "$OUT/card.txt"

# run_logged LABEL TIMEOUT "ENV=… …" BINARY ARGS…: runs .gpu/BINARY with those environment
# assignments, keeps its whole output in $OUT/LABEL.log, prints its JSON lines tagged with the
# label and its first error lines (or a non-zero exit status).
run_logged() {
  local label=$1 t=$2 envs=$3 bin=$4; shift 4
  env $envs timeout "$t" ".gpu/$bin" "$@" > "$OUT/$label.log" 2>&1; echo "rc=$?" >> "$OUT/$label.log"
  grep -E '^\{' "$OUT/$label.log" | sed "s/^{/{\"run\":\"$label\",/"
  grep -iE 'error|panic|rc=[1-9]' "$OUT/$label.log" | head -3
}

# build_steps PREFIX TIMEOUT LATEST "BUILD…" ARGS…: `grpo-cuda ARGS` once per PTX build, each in
# its own process (run_logged, label PREFIX-BUILD), the committed build ("head") first and again
# last (head-1, head-2); head-2 is skipped once more than LATEST seconds have passed (0: never).
build_steps() {
  local prefix=$1 t=$2 latest=$3 builds=$4 run; shift 4
  for run in head-1 $builds head-2; do
    [ $run = head-2 ] && [ "$latest" -gt 0 ] && [ $SECONDS -gt "$latest" ] && continue
    run_logged $prefix-$run $t "$(ptx_env ${run%-[0-9]})" grpo-cuda "$@"
  done
}

# xla_mem LABEL: the temporaries of each XLA executable in $OUT/LABEL.log (run with GOMLXGRPO_XLA_LOG=1).
xla_mem() { grep -oE 'Temporary:[0-9.]+ [GMK]iB' "$OUT/$1.log" | head -8 | tr '\n' ' '; echo; }

# cuda_tests TIMEOUT PATTERN [LABEL [ENV=… …]]: the GPU tests of gomlxgrpo/cuda matching PATTERN,
# with those environment assignments, whole output in $OUT/tests.txt (tests-LABEL.txt) as they run
# (a call that times out keeps it), then their summary lines (prefixed with LABEL). The binary is
# .gpu/cuda.test, or .gpu/$CUDA_TEST (scripts/build_gpu_binaries.sh patch …).
cuda_tests() {
  local t=$1 pat=$2 label=${3:-}; shift $(($# < 3 ? $# : 3))
  local log="$OUT/tests${label:+-$label}.txt"
  (cd gomlxgrpo/cuda && env "$@" GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout "$t" "../../.gpu/${CUDA_TEST:-cuda.test}" -test.v -test.run "$pat" > "$log" 2>&1; echo "rc=$?" >> "$log")
  grep -E -- '^(---|ok|FAIL|PASS|rc=)|_test.go|panic' "$log" | sed "s/^/${label:+$label }/" | head -20
}

# ptx_env VARIANT: the assignment that makes Init load the kernel modules in .gpu/ptx-VARIANT
# (scripts/build_ptx_variant.sh), by absolute path; nothing for "head" (the embedded ones). Pass
# it unquoted, so that "head" adds no argument.
ROOT=$(pwd)
ptx_env() { [ "$1" = head ] || echo "GOMLXGRPO_PTX_DIR=$ROOT/.gpu/ptx-$1"; }

# layer_bench LABEL LAYER PATTERN [ENV=… …]: BenchmarkNF4Projections' sub-benchmarks matching
# PATTERN on shape LAYER (300 iterations, no PJRT), with those environment assignments, their
# result lines and which PTX folder loaded, prefixed with LABEL.
layer_bench() {
  local label=$1 layer=$2 pat=$3; shift 3
  (cd gomlxgrpo/cuda && env "$@" GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER="$layer" timeout 90 ../../.gpu/cuda.test -test.run '^$' -test.bench "$pat" -test.benchtime 300x 2>&1 |
    grep -E '^Benchmark|FAIL|panic|PTX_DIR' | sed "s/^/$label /")
}

# cuda_bench TIMEOUT PATTERN [ENV=… …]: the benchmarks of gomlxgrpo/cuda matching PATTERN (200
# iterations each), their result lines.
cuda_bench() {
  local t=$1 pat=$2; shift 2
  (cd gomlxgrpo/cuda && env "$@" GOMLX_BACKEND="xla:$PLUGIN,tf32=false" timeout "$t" ../../.gpu/cuda.test -test.run '^$' -test.bench "$pat" -test.benchtime 200x 2>&1 | grep -E '^Benchmark')
}

# pack_out KEEP…: at most 8 files come back from $OUT, so put every file there but console.txt,
# card.txt and the ones named into $OUT/logs.tar.gz (call it last).
pack_out() {
  local keep=" console.txt card.txt logs.tar.gz $* " f files=()
  for f in "$OUT"/*; do [ -f "$f" ] && [[ "$keep" != *" $(basename "$f") "* ]] && files+=("$(basename "$f")"); done
  [ ${#files[@]} -gt 0 ] && (cd "$OUT" && tar czf logs.tar.gz "${files[@]}" && rm -f "${files[@]}")
  echo "packed ${#files[@]} files into logs.tar.gz"
}

# profile_step LABEL TIMEOUT LINES ARGS…: `grpo-cuda ARGS` with GOMLXGRPO_CUDA_PROFILE=1 (kernels
# launched one by one, CUDA events around each, so each figure carries a launch), whole output in
# $OUT/LABEL.log, its first LINES per-kernel report lines printed.
profile_step() {
  local label=$1 t=$2 lines=$3; shift 3
  run_logged "$label" "$t" "GOMLXGRPO_CUDA_PROFILE=1" grpo-cuda "$@"
  grep 'cuda profile' "$OUT/$label.log" | head -"$lines"
}

# ncu_sass NAME LAYER KERNELS SKIP COUNT BENCH: Nsight Compute's source counters and warp states on
# COUNT launches (after SKIP) of the kernels matching regex KERNELS in BenchmarkNF4Projections'
# sub-benchmark BENCH on shape LAYER (no PJRT in the process), exported to $OUT/ncu-NAME-export
# and printed per SASS instruction as $OUT/ncu-NAME-sass.csv. The export is removed once the CSV
# is written: at most 8 files come back from $OUT.
ncu_sass() {
  local name=$1 layer=$2 kernels=$3 skip=$4 count=$5 bench=$6 l="ncu-$1-export" csv="$OUT/ncu-$1-sass.csv"
  local ncu; ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | tail -1)
  (cd gomlxgrpo/cuda && GOMLXGRPO_CUDA_RAW=1 GOMLXGRPO_NCU_LAYER="$layer" timeout 120 $ncu --clock-control none --section SourceCounters --section WarpStateStats \
    --import-source yes -k "regex:$kernels" --launch-skip "$skip" --launch-count "$count" -o "$OUT/$l" -f \
    ../../.gpu/cuda.test -test.run '^$' -test.bench "NF4Projections/$layer/$bench\$" -test.benchtime 6x > "$OUT/$l.txt" 2>&1)
  echo "$l rc=$? at ${SECONDS}s"
  timeout 60 $ncu -i "$OUT/$l.ncu-rep" --page source --csv --print-source sass > "$csv" 2>> "$OUT/$l.txt"
  echo "sass page rc=$? lines $(wc -l < "$csv")"; tail -3 "$OUT/$l.txt"
  [ -s "$csv" ] && rm -f "$OUT/$l.ncu-rep"
}
