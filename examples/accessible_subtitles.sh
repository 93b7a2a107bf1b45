#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Accessibility subtitles for a video file: WebVTT cues that follow the
# picture. A caption is made when the picture changes (sampling=change), at
# most once a second and at least every 10 s; an unchanged description
# extends the cue on screen instead of repeating it; the text is written as
# subtitles are (a sentence, at most 2 lines of 42 characters, shown at least
# 1 s and long enough to read at 15 characters a second).
#
#   examples/accessible_subtitles.sh in.mp4 out.vtt [model]
#
# model: a checkpoint folder or a Hugging Face repo id in the local cache
# (default Salesforce/blip2-opt-2.7b-coco). The plugin is taken from
# build/gst unless GST_PLUGIN_PATH is set. Needs webvttenc (gst-plugins-bad).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="${GST_PLUGIN_PATH:-$root/build/gst}"
in="${1:?usage: $0 in.mp4 out.vtt [model]}"
out="${2:?usage: $0 in.mp4 out.vtt [model]}"
model="${3:-Salesforce/blip2-opt-2.7b-coco}"

gst-launch-1.0 -e \
  filesrc location="$in" ! decodebin ! videoconvert ! \
  blip2caption model="$model" name=c mode=offline sampling=change \
    min-interval=1000000000 interval=10000000000 \
    num-beams=5 max-new-tokens=30 min-new-tokens=8 \
    max-line-length=42 max-lines=2 min-cue-duration=1000000000 reading-rate=15 ! fakesink \
  c.text_src ! queue ! webvttenc ! filesink location="$out"
echo "wrote $out"
