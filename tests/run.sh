#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs every test.
# Ends with one line "N passed, N failed[, N skipped]"; exits non-zero on failure.
# Environment: BLIP2_OPT_TOKENIZER_DIR = the real OPT tokenizer folder (tests
# that need it are skipped without it); BUILD_DIR (default: build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

tools/setup.sh
export PATH="$root/.venv/bin:$PATH"
build="${BUILD_DIR:-build}"

if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build"
fi
ninja -C "$build"
rm -rf "$build/test-results"
mkdir -p "$build/test-results"
set +e
meson test -C "$build" --num-processes 2 --print-errorlogs "$@"
set -e
python3 tests/summarize.py "$build"
