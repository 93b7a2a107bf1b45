#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Clock vs change sampling on a generated clip with known cuts (see
# change_sampling.py): captions computed, cues emitted, cut recall, false
# triggers and the inference time saved.
#
#   tests/bench/change_sampling.sh [build dir] [extra change_sampling.py args]
#
# Uses the build's plugin and its tiny test model (ninja -C <build> builds both).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
shift || true
model="$build/tests/fixtures/models/tiny"
[ -f "$model/config.json" ] || { echo "no tiny model in $model: run ninja -C $build" >&2; exit 1; }
export GST_PLUGIN_PATH="$build/gst"
exec /usr/bin/python3 "$root/tests/bench/change_sampling.py" --model "$model" "$@"
