#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A video file to SubRip subtitles, one caption per second of video.
#
#   examples/file_to_srt.sh in.mp4 out.srt [model]
#
# model: a checkpoint folder or a Hugging Face repo id in the local cache
# (default Salesforce/blip2-opt-2.7b-coco). The plugin is taken from
# build/gst unless GST_PLUGIN_PATH is set. Needs srtenc (gst-plugins-bad).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$root/build/gst}"
in="${1:?usage: $0 in.mp4 out.srt [model]}"
out="${2:?usage: $0 in.mp4 out.srt [model]}"
model="${3:-Salesforce/blip2-opt-2.7b-coco}"

gst-launch-1.0 -e \
  filesrc location="$in" ! decodebin ! videoconvert ! \
  blip2caption model="$model" name=c ! fakesink \
  c.text_src ! queue ! srtenc ! filesink location="$out"
echo "wrote $out"
