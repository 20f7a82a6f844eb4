#!/usr/bin/env bash
# Quick start 1: installs what is missing, builds, and trains the default example (the reference CNN
# on Fashion-MNIST, one process). Extra arguments go to the trainer, e.g. --epochs 1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec ./build/examples/troupe-train "$@"
