#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Pipeline throughput with and without blip2caption on frames it does not
# sample, printed as a ratio (see element_overhead.py).
#
#   tests/bench/element_overhead.sh [build dir] [extra element_overhead.py args]
#
# Uses the build's plugin and its tiny test model (ninja -C <build> builds both).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
shift || true
model="$build/tests/fixtures/models/tiny"
[ -f "$model/config.json" ] || { echo "no tiny model in $model: run ninja -C $build" >&2; exit 1; }
export GST_PLUGIN_PATH="$build/gst"
exec /usr/bin/python3 "$root/tests/bench/element_overhead.py" --model "$model" "$@"
