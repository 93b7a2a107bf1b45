#!/usr/bin/env bash
# Installs what building and testing need, skipping what is already there:
# Debian packages (compiler deps, GStreamer dev + tools, gtest, nlohmann-json,
# libcurl / libpng / libjpeg for the remote backend)
# and the project virtual environment .venv (CPU torch 2.13.0 = our libtorch,
# transformers pinned for the oracle and its `transformers serve`, meson/ninja).
# Usage: tools/setup.sh [--no-gstreamer]
#        tools/setup.sh --fuzz   (only clang and its libFuzzer/sanitizer
#                                 runtime, for tests/fuzz/run.sh; the main
#                                 build does not use clang)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

apt_packages=(g++ pkg-config cmake libgtest-dev nlohmann-json3-dev
  libcurl4-openssl-dev libpng-dev libjpeg-dev)
if [ "${1:-}" = "--fuzz" ]; then
  apt_packages=(clang libclang-rt-dev nlohmann-json3-dev)
elif [ "${1:-}" != "--no-gstreamer" ]; then
  apt_packages+=(libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
    gstreamer1.0-x gstreamer1.0-tools
    python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0)
fi
missing=()
for p in "${apt_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${1:-}" = "--fuzz" ] && exit 0

req="$root/tools/requirements.txt"
stamp="$root/.venv/.requirements.sha"
want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: preparing .venv (torch 2.13.0 CPU, transformers, meson)"
  python3 -m venv .venv
  # torch first and alone, exactly pinned: an unpinned torch would pull a CUDA build.
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -r "$req"
  echo "$want" > "$stamp"
fi
