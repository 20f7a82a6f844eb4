#!/usr/bin/env bash
# Quick start 1: installs what is missing, builds, and runs the embedded default: the whole
# topology of examples/fmnist-local.yaml (aggregator, loader, two trainers) in one process,
# training the reference CNN on Fashion-MNIST. Extra arguments go to troupe-node,
# e.g. --set job.epochs=1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
exec ./build/apps/troupe-node --role all --config examples/fmnist-local.yaml "$@"
