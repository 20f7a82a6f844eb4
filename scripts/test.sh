#!/usr/bin/env bash
# Quick start 2: installs what is missing, builds, and runs the whole test suite through CTest,
# then the fast unit tests again under AddressSanitizer + UBSan (scripts/sanitize.sh).
# Extra arguments go to the main ctest run, e.g. -L faults or -R '^tensor:'.
# Set TROUPE_SKIP_SANITIZE=1 to skip the sanitizer pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900 -j2 "$@")
if [ "${TROUPE_SKIP_SANITIZE:-0}" != 1 ]; then
  scripts/sanitize.sh
fi
