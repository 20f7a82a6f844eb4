#!/usr/bin/env bash
# Builds the threaded parts' tests with ThreadSanitizer into ./build-tsan and runs them.
#
#   scripts/tsan.sh          net (the van's I/O thread, ZeroMQ hand-offs) and ps: part of
#                            scripts/test.sh, must pass
#   scripts/tsan.sh --all    also runtime (router, supervisor) and the in-process clusters of actors:
#                            by hand, read the reports
#
# Why runtime and actors are not in the gate: Debian builds CAF 0.17 and libzmq without TSan
# instrumentation, so every hand-off through a CAF mailbox, a ZeroMQ pipe or ZeroMQ's free callback
# (memory written by one thread, read by another after the library's own, invisible,
# synchronisation) is reported as a race. scripts/tsan.supp silences the hand-offs that can be
# named without hiding our own code (ZeroMQ's: the net tests pass); the CAF mailbox ones cannot
# (our handlers run under the same frames), so the runtime and actors tests still report them. A
# meaningful pass there needs instrumented builds of CAF and libzmq.
set -euo pipefail
cd "$(dirname "$0")/.."
all=0
[ "${1:-}" = --all ] && all=1
targets=(troupe_net_tests troupe_ps_tests)
pattern='^(net|ps):'
if [ "$all" = 1 ]; then
  targets+=(troupe_runtime_tests troupe_actors_tests)
  pattern='^(net|ps|runtime|actors):'
fi
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTROUPE_SANITIZE=thread \
  -DTROUPE_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-tsan -j"$(nproc)" --target "${targets[@]}"
cd build-tsan
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/../scripts/tsan.supp"
# The cluster tests are slow under TSan: the consistency sweep and the 20x straggler are left to
# the plain run.
ctest --output-on-failure --timeout 900 -j2 -R "$pattern" -E 'clusters of 1, 2 and 4 trainers|20x slower'
