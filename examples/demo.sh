#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The one-command demo: installs what is missing (tools/setup.sh), builds
# with meson into build/, and captions a video end to end with blip2caption.
#
#   ./examples/demo.sh [video file]
#
# The model is Salesforce/blip2-opt-2.7b-coco when it is in the local Hugging
# Face cache (HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub; fetch it
# with `hf download Salesforce/blip2-opt-2.7b-coco`). Otherwise the demo
# builds the tiny RANDOM model of the test oracle and says so: the pipeline
# is real, its captions are random words. BLIP2_DEMO_MODEL=<folder or repo
# id> forces a model. Without a video file, 5 s of videotestsrc are used.
# BLIP2_BUILD_DIR=<folder> builds elsewhere than build/;
# BLIP2_DEMO_SKIP_SETUP=1 skips tools/setup.sh and the build (already done).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
build="${BLIP2_BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
export PATH="$root/.venv/bin:$PATH"

if [ "${BLIP2_DEMO_SKIP_SETUP:-0}" != 1 ]; then
  echo "== setup (tools/setup.sh)"
  tools/setup.sh
  echo "== build (meson setup $build; ninja -C $build: the plugin and the CLI)"
  [ -f "$build/build.ninja" ] || meson setup "$build"
  ninja -C "$build" gst/libgstblip2.so examples/blip2-caption
fi
export GST_PLUGIN_PATH="$build/gst"
gst-inspect-1.0 blip2caption >/dev/null || { echo "blip2caption did not build" >&2; exit 1; }

repo="Salesforce/blip2-opt-2.7b-coco"
hub="${HF_HUB_CACHE:-${HUGGINGFACE_HUB_CACHE:-}}"
if [ -z "$hub" ]; then
  if [ -n "${HF_HOME:-}" ]; then hub="$HF_HOME/hub"
  else hub="${XDG_CACHE_HOME:-$HOME/.cache}/huggingface/hub"; fi
fi
random=0
if [ -n "${BLIP2_DEMO_MODEL:-}" ]; then
  model="$BLIP2_DEMO_MODEL"
elif [ -n "$(ls -A "$hub/models--Salesforce--blip2-opt-2.7b-coco/snapshots" 2>/dev/null)" ]; then
  model="$repo"
else
  random=1
  fixtures="$build/tests/fixtures"
  if [ ! -f "$fixtures/models/tiny-coco/config.json" ]; then
    fixtures="$build/demo-fixtures"
    if [ ! -f "$fixtures/models/tiny-coco/config.json" ]; then
      echo "== building the tiny random model (model/oracle/make_models.py)"
      python3 model/oracle/make_tokenizer.py --out "$fixtures/tokenizer"
      python3 model/oracle/make_models.py --fixtures "$fixtures" --only tiny-coco
    fi
  fi
  model="$fixtures/models/tiny-coco"
fi

if [ "$random" = 1 ]; then
  cat <<MSG

  ************************************************************************
  *  $repo is not in the Hugging Face cache
  *  ($hub).
  *  Using a TINY MODEL WITH RANDOM WEIGHTS instead: the pipeline is real,
  *  but THE CAPTIONS BELOW ARE RANDOM WORDS, not descriptions of the video.
  *  For real captions: hf download $repo   (then run this again)
  ************************************************************************

MSG
else
  echo "== model: $model"
fi

if [ $# -ge 1 ]; then
  source_=(filesrc location="$1" ! decodebin ! videoconvert)
else
  source_=(videotestsrc num-buffers=150 pattern=smpte ! video/x-raw,width=640,height=480,framerate=30/1)
fi
mkdir -p "$build/demo"
srt="$build/demo/demo.srt"

if gst-inspect-1.0 srtenc >/dev/null 2>&1; then
  echo "== pipeline: video -> blip2caption -> SubRip ($srt)"
  set -x
  gst-launch-1.0 -e "${source_[@]}" ! \
    blip2caption model="$model" interval=1000000000 name=c ! fakesink \
    c.text_src ! queue ! srtenc ! filesink location="$srt"
  { set +x; } 2>/dev/null
  echo "== $srt:"
  cat "$srt"
fi
if /usr/bin/python3 -c 'import gi; gi.require_version("Gst", "1.0")' 2>/dev/null; then
  echo "== the same captions read from Python (meta on the buffers + bus messages)"
  args=(--model "$model" --interval 1)
  [ $# -ge 1 ] && args+=(--file "$1")
  /usr/bin/python3 examples/read_captions.py "${args[@]}" --frames 150
fi
if [ "$random" = 1 ]; then
  echo "(reminder: a tiny RANDOM model made these captions; they are not meant to make sense)"
fi
