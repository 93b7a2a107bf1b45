#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A video file to Matroska with the captions as a subtitle track.
#
#   examples/file_to_mkv.sh in.mp4 out.mkv [model]
#
# The video is re-encoded with x264enc when installed, else vp8enc, else
# jpegenc; the captions become a S_TEXT/UTF8 track that players show as
# subtitles (e.g. mpv out.mkv, or gst-play-1.0 out.mkv).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$root/build/gst}"
in="${1:?usage: $0 in.mp4 out.mkv [model]}"
out="${2:?usage: $0 in.mp4 out.mkv [model]}"
model="${3:-Salesforce/blip2-opt-2.7b-coco}"

if gst-inspect-1.0 x264enc >/dev/null 2>&1; then
  encoder="x264enc tune=zerolatency ! h264parse"
elif gst-inspect-1.0 vp8enc >/dev/null 2>&1; then
  encoder="vp8enc deadline=1"
else
  encoder="jpegenc"
fi

# shellcheck disable=SC2086  # $encoder is a pipeline fragment
gst-launch-1.0 -e \
  filesrc location="$in" ! decodebin ! videoconvert ! \
  blip2caption model="$model" name=c ! queue ! videoconvert ! $encoder ! queue ! \
  matroskamux name=mux ! filesink location="$out" \
  c.text_src ! queue ! mux.subtitle_0
echo "wrote $out"
