#!/usr/bin/env bash
# Builds the threaded parts' tests with ThreadSanitizer into ./build-tsan and runs them: net (the
# van's I/O thread), ps, runtime (router, supervisor) and the in-process clusters of actors.
# CAF and libzmq come from Debian without TSan instrumentation: what happens inside them is not
# checked (scripts/tsan.supp), races between our threads are. Called by scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTROUPE_SANITIZE=thread \
  -DTROUPE_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-tsan -j"$(nproc)" --target troupe_net_tests troupe_ps_tests troupe_runtime_tests troupe_actors_tests
cd build-tsan
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/../scripts/tsan.supp"
# The cluster tests are slow under TSan: the consistency sweep and the 20x straggler are left to
# the plain run; every other actors test runs here.
ctest --output-on-failure --timeout 900 -j2 -R '^(net|ps|runtime|actors):' \
  -E 'clusters of 1, 2 and 4 trainers|20x slower'
