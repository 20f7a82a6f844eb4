#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UndefinedBehaviorSanitizer into ./build-asan and
# runs the fast areas (common, tensor, data, config, net, ps) under them. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTROUPE_SANITIZE=address,undefined \
  -DTROUPE_BUILD_BENCHMARKS=OFF >/dev/null
targets=()
for area in common tensor data config net ps; do
  [ -d "tests/$area" ] && targets+=("troupe_${area}_tests")
done
cmake --build build-asan -j"$(nproc)" --target "${targets[@]}"
cd build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure --timeout 900 -j2 -R '^(common|tensor|data|config|net|ps):'
