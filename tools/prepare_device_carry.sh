#!/usr/bin/env bash
# Fills .device/ (ignored by git; named in the device tool's `carry`) with what
# building on the GPU machine needs and that machine lacks (it has g++, nvcc,
# cmake, python3 with torch and transformers, no network, no GStreamer):
#   .device/wheels/   meson and ninja wheels (the versions of tools/requirements.txt)
#   .device/json/     nlohmann-json headers + CMake package + pkg-config file,
#                     relocatable (found through CMAKE_PREFIX_PATH / PKG_CONFIG_PATH)
# Run once here, before the `run` call (docs/gpu.md). Needs pip with network
# access and the nlohmann-json3-dev package (tools/setup.sh installs it).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
carry="$root/.device"
pip="${PIP:-$root/.venv/bin/python -m pip}"

grep -qx '/.device/' "$root/.git/info/exclude" 2>/dev/null || echo '/.device/' >> "$root/.git/info/exclude"
rm -rf "$carry/wheels" "$carry/json"
mkdir -p "$carry/wheels" "$carry/json/include" "$carry/json/share/cmake" "$carry/json/share/pkgconfig"

# The GPU machine runs CPython 3.12 on x86-64 (manylinux).
$pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --platform manylinux1_x86_64 -d "$carry/wheels" meson==1.12.1 ninja==1.13.2

json_include=/usr/include/nlohmann
json_cmake=/usr/share/cmake/nlohmann_json
if [ ! -f "$json_include/json.hpp" ] || [ ! -f "$json_cmake/nlohmann_jsonConfig.cmake" ]; then
  echo "prepare_device_carry: nlohmann-json3-dev is not installed (run tools/setup.sh)" >&2
  exit 1
fi
cp -r "$json_include" "$carry/json/include/"
cp -r "$json_cmake" "$carry/json/share/cmake/"
version="$(sed -n 's/^Version: *//p' /usr/share/pkgconfig/nlohmann_json.pc 2>/dev/null || true)"
cat > "$carry/json/share/pkgconfig/nlohmann_json.pc" <<EOF
prefix=\${pcfiledir}/../..
includedir=\${prefix}/include

Name: nlohmann_json
Description: JSON for Modern C++ (headers carried to the GPU machine)
Version: ${version:-3.11.2}
Cflags: -I\${includedir}
EOF

du -sh "$carry"
ls "$carry/wheels"
