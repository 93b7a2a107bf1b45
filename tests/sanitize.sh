#!/usr/bin/env bash
# The whole project built with AddressSanitizer + UndefinedBehaviorSanitizer
# (gcc), and its unit, CLI and gst-check tests run under them, with the
# suppressions in tests/sanitizers/ (leaks that libtorch, OpenMP and
# GLib/GStreamer keep for the life of the process; no error of our code is
# suppressed). CI runs only the parser tests this way (the sanitize_parsers
# option of the normal build); this script is the full run.
#
# Usage: tests/sanitize.sh [meson test arguments, e.g. --suite X or test names]
# Environment: BUILD_DIR (default build-asan), BLIP2_OPT_TOKENIZER_DIR,
# NINJA_JOBS (parallel compile jobs; default: ninja's).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
tools/setup.sh
export PATH="$root/.venv/bin:$PATH"
build="${BUILD_DIR:-build-asan}"
# -O1 and line tables only (-g1): what ASan recommends, and it compiles the
# libtorch-heavy sources in about half the time of -O2 -g.
options=(-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=custom -Doptimization=1
         -Ddebug=false -Dc_args=-g1 -Dcpp_args=-g1 -Dsanitize_parsers=false)
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" "${options[@]}" >/dev/null
else
  meson setup "$build" "${options[@]}"
fi
ninja -C "$build" ${NINJA_JOBS:+-j "$NINJA_JOBS"}
supp="$root/tests/sanitizers"
# fast_unwind_on_malloc=0: allocation stacks through libraries built without
# frame pointers (GLib, fontconfig) are cut short by the fast unwinder, and the
# suppressions would have to name whole libraries; the DWARF unwinder is slower
# (GStreamer-heavy tests take several times longer) but the stacks are whole.
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_string_checks=1:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp"
# GStreamer scans plugins in a helper process, gst-plugin-scanner, that is not
# instrumented: a wrapper preloads the sanitizer runtimes into it. (Scanning in
# the tests' own processes instead, GST_REGISTRY_FORK=no, would initialise
# every system plugin there, and their one-time allocations, in libudev,
# fontconfig and camera drivers, would show up as leaks of the tests.)
export BLIP2_SANITIZER_RUNTIMES="$(c++ -print-file-name=libasan.so) $(c++ -print-file-name=libubsan.so)"
export BLIP2_PLUGIN_SCANNER="$(pkg-config --variable=pluginscannerdir gstreamer-1.0)/gst-plugin-scanner"
export GST_PLUGIN_SCANNER_1_0="$supp/plugin-scanner.sh"
# Tests that load the plugin into a program that is not instrumented (the
# system python, gst-inspect-1.0) get the sanitizer runtimes through
# LD_PRELOAD (host_program_env in tests/meson.build).
rm -rf "$build/test-results"
mkdir -p "$build/test-results"
set +e
meson test -C "$build" --num-processes 2 --print-errorlogs --timeout-multiplier 4 "$@"
set -e
python3 tests/summarize.py "$build"
