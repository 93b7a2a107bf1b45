#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A camera with its captions drawn on the picture (live mode: captions are
# made on a worker thread, the video never waits; textoverlay waits for the
# text stream within the element's latency).
#
#   examples/camera_overlay.sh [model] [device]     (device: /dev/video0)
#   examples/camera_overlay.sh --test [model]       (a live test pattern)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$root/build/gst}"
source_="v4l2src device=${2:-/dev/video0}"
if [ "${1:-}" = "--test" ]; then
  shift
  source_="videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1"
fi
model="${1:-Salesforce/blip2-opt-2.7b-coco}"

# shellcheck disable=SC2086  # $source_ is a pipeline fragment
gst-launch-1.0 \
  $source_ ! videoconvert ! \
  blip2caption model="$model" latency=2000 name=c ! videoconvert ! \
  textoverlay name=o valignment=bottom font-desc="Sans 18" ! autovideosink \
  c.text_src ! o.text_sink
