#!/usr/bin/env bash
# Quick start 2: installs what is missing, builds, and runs the whole test suite through CTest.
# Extra arguments go to ctest, e.g. -L faults or -LE slow.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd build
exec ctest --output-on-failure --timeout 900 -j2 "$@"
