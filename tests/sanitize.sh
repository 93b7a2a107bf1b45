#!/usr/bin/env bash
# The whole project built with AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc), and its unit, CLI and gst-check tests run under them, with the
# suppressions in tests/sanitizers/ (leaks that libtorch, OpenMP and
# GLib/GStreamer keep for the life of the process; no error of our code is
# suppressed). CI runs only the parser tests this way (the sanitize_parsers
# option of the normal build); this script is the full run.
#
# Usage: tests/sanitize.sh [meson test arguments, e.g. --suite X or test names]
# Environment: BUILD_DIR (default build-asan), BLIP2_OPT_TOKENIZER_DIR.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools/setup.sh
export PATH="$root/.venv/bin:$PATH"
build="${BUILD_DIR:-build-asan}"
options=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
         -Dsanitize_parsers=false)
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" "${options[@]}" >/dev/null
else
  meson setup "$build" "${options[@]}"
fi
ninja -C "$build"
supp="$root/tests/sanitizers"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_string_checks=1"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
# The PyGObject example runs the system python, which cannot load an
# instrumented plugin without LD_PRELOAD: it is left to the normal build.
tests=()
if [ $# -eq 0 ]; then
  mapfile -t tests < <(meson test -C "$build" --list 2>/dev/null | sed 's/^.* \/ //' | grep -v '^python_example$')
fi
rm -rf "$build/test-results"
mkdir -p "$build/test-results"
set +e
meson test -C "$build" --num-processes 2 --print-errorlogs --timeout-multiplier 4 "${tests[@]}" "$@"
set -e
python3 tests/summarize.py "$build"
