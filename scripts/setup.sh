#!/usr/bin/env bash
# Installs the Debian packages the build needs (only those missing), then configures and
# builds clusteralloc into build/. Safe to run again; later runs only rebuild what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake g++ make pkg-config libopenblas-dev nlohmann-json3-dev libgtest-dev zlib1g-dev
          libhdf5-dev libomp-dev libopenmpi-dev openmpi-bin git)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  runner=()
  [ "$(id -u)" -ne 0 ] && runner=(sudo)
  "${runner[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${runner[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release ${CA_CMAKE_ARGS:-} > build.log 2>&1 ||
  { cat build.log; exit 1; }
cmake --build build -j "$jobs" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
echo "setup: built build/clusteralloc ($(grep -o 'CUDA backend [A-Z]*' build.log | head -1))"
