#!/usr/bin/env bash
# Quick start 2: installs what is missing, checks the committed style (scripts/format.sh --check),
# builds with warnings as errors, and runs the whole test suite through CTest, then the fast unit
# tests again under AddressSanitizer + UBSan (scripts/sanitize.sh), then a short libFuzzer run of
# every decoder from the checked-in seed corpus (scripts/fuzz.sh, 10 s each), and the net and ps
# tests under ThreadSanitizer (scripts/tsan.sh; its header says why runtime and actors are not).
# Extra arguments go to the main ctest run, e.g. -L faults or -R '^tensor:'.
# Set TROUPE_SKIP_SANITIZE=1 to skip the ASan/UBSan and TSan passes, TROUPE_SKIP_FUZZ=1 to skip
# the fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/format.sh --check
scripts/build.sh -DTROUPE_WERROR=ON
(cd build && ctest --output-on-failure --timeout 900 -j2 "$@")
if [ "${TROUPE_SKIP_SANITIZE:-0}" != 1 ]; then
  scripts/sanitize.sh
  scripts/tsan.sh
fi
if [ "${TROUPE_SKIP_FUZZ:-0}" != 1 ]; then
  scripts/fuzz.sh 10
fi
