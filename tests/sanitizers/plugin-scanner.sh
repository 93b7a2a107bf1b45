#!/bin/sh
# gst-plugin-scanner for tests/sanitize.sh: the system's scanner is not
# instrumented, so it gets the sanitizer runtimes first through LD_PRELOAD
# (else it cannot load the instrumented plugin), leak detection off (what the
# scanner keeps at exit is GStreamer's, and no test runs in it).
LD_PRELOAD="$BLIP2_SANITIZER_RUNTIMES${LD_PRELOAD:+ $LD_PRELOAD}" \
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" exec "$BLIP2_PLUGIN_SCANNER" "$@"
