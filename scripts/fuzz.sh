#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) into ./build-fuzz and runs each for N seconds
# (default 10) from a copy of its seed corpus in fuzz/corpus/, which is never written to.
#
#   scripts/fuzz.sh [seconds-per-target]
#
# Environment: FUZZ_TARGETS="codec idx" runs a subset; FUZZ_BUILD_DIR (default build-fuzz);
# FUZZ_OUT (default <build dir>/fuzz-runs) holds each run's grown corpus, log and reproducers.
# Prints executions per target; exits non-zero if any target crashed, leaked, hung or ran out of
# memory, naming the reproducer (replay it with: <build dir>/fuzz/fuzz_<target> <reproducer>).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

seconds=${1:-10}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [seconds-per-target]  (a positive whole number, got '$seconds')" >&2
  exit 2
fi
build=${FUZZ_BUILD_DIR:-build-fuzz}
out=${FUZZ_OUT:-$build/fuzz-runs}
targets=(${FUZZ_TARGETS:-codec protocol checkpoint idx topology model_spec})

scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTROUPE_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}")

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  dir=$out/$t
  rm -rf "$dir"
  mkdir -p "$dir/corpus"
  cp -r "fuzz/corpus/$t/." "$dir/corpus/"
  dict=()
  [ -f "fuzz/dict/$t.dict" ] && dict=("-dict=$root/fuzz/dict/$t.dict")
  echo "fuzz: $t for ${seconds}s (log $dir/log)"
  set +e
  "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="$dir/" "${dict[@]}" "$dir/corpus" >"$dir/log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  repro=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
          -o -name 'oom-*' \) | head -1)
  if [ "$rc" -ne 0 ] || [ -n "$repro" ]; then
    failed=1
    line="$t: FAILED (exit $rc) after ${execs:-?} executions; reproducer: ${repro:-none written, see $dir/log}"
    grep -m3 -E 'ERROR: |runtime error|SUMMARY|fuzz_[a-z_]+: ' "$dir/log" | sed 's/^/    /' >&2 || true
  else
    line="$t: ok, ${execs:-?} executions (${rate:-?} exec/s), no crash"
  fi
  echo "fuzz: $line"
  summary+=("$line")
done

echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: crashes found; replay one with $build/fuzz/fuzz_<target> <reproducer> (docs/fuzzing.md)" >&2
  exit 1
fi
