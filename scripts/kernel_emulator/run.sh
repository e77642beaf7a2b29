#!/bin/bash
# Runs kernels/*.cu on the CPU emulator against C++ references (no GPU needed; g++ ≥ 12), built
# with AddressSanitizer so that a kernel reading or writing past a buffer fails the run.
set -eu
cd "$(dirname "$0")"
out=$(mktemp -d)
for cu in ../../kernels/*.cu; do
  g++ -std=c++20 -O1 -g -fsanitize=address -pthread -w -include emu.h -I../../kernels -x c++ -c "$cu" -o "$out/$(basename "$cu" .cu).o"
done
g++ -std=c++20 -O1 -g -fsanitize=address -pthread -w -c emu.cc -o "$out/emu.o"
g++ -std=c++20 -O1 -g -fsanitize=address -pthread -w -c test.cc -o "$out/test.o"
g++ -fsanitize=address -pthread -o "$out/kernels_test" "$out"/*.o
ASAN_OPTIONS=detect_leaks=0 "$out/kernels_test"
