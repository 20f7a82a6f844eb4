#!/usr/bin/env bash
# Installs the Debian 12 packages Troupe needs to build, test and train (only the missing ones).
# Run as root (or with sudo available). Usage: scripts/install-deps.sh
set -euo pipefail

packages=(
  build-essential cmake pkg-config git clang clang-format libclang-rt-14-dev
  libcaf-dev libzmq3-dev cppzmq-dev libcereal-dev
  xtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev libdnnl-dev
  catch2 libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libcpp-httplib-dev
  dataset-fashion-mnist
  slurm-wlm munge openmpi-bin
)
# kubectl checks the Kubernetes manifests (client-side); any kubectl will do, and Debian's package
# would clash with one installed another way.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
  else
    echo "install-deps: error: missing packages (${missing[*]}) and not running as root; rerun as root" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
