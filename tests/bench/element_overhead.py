#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cost of blip2caption on the frames it does not sample.

Runs the same pipeline with and without the element and prints the frame
rates and their ratio:

  videotestsrc ! video/x-raw,... ! [blip2caption interval=<longer than the run>] ! fakesink

Only the first frame is sampled (and captioned); the clock starts at frame
--warmup, after that caption, so the numbers measure the per-frame cost of
the element on frames it passes through (mapping, sampling decision, text
stream bookkeeping). Each variant runs --repeat times; the best run counts.
"""
import argparse
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def run(description, frames, warmup):
    pipeline = Gst.parse_launch(description)
    sink = pipeline.get_by_name("sink")
    marks = {}

    def on_buffer(pad, info):
        marks["n"] = marks.get("n", 0) + 1
        if marks["n"] == warmup:
            marks["start"] = time.perf_counter()
        marks["end"] = time.perf_counter()
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_buffer)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(600 * Gst.SECOND,
                                                Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type == Gst.MessageType.ERROR:
        detail = msg.parse_error()[0].message if msg else "timeout"
        raise SystemExit(f"pipeline failed: {detail}\n  {description}")
    if marks.get("n") != frames:
        raise SystemExit(f"expected {frames} frames, got {marks.get('n')}")
    return (frames - warmup) / (marks["end"] - marks["start"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", required=True, help="checkpoint folder (the tiny model is enough)")
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--caps", default="video/x-raw,format=I420,width=1280,height=720,framerate=30/1")
    ap.add_argument("--mode", default="offline", choices=["offline", "live"])
    args = ap.parse_args()
    Gst.init(None)
    if Gst.ElementFactory.find("blip2caption") is None:
        raise SystemExit("blip2caption not found: set GST_PLUGIN_PATH to the build's gst/ folder")

    source = f"videotestsrc num-buffers={args.frames} pattern=solid-color ! {args.caps}"
    without = f"{source} ! fakesink name=sink sync=false"
    with_element = (f"{source} ! blip2caption model=\"{args.model}\" device=cpu mode={args.mode} "
                    f"interval={10**18} max-new-tokens=2 ! fakesink name=sink sync=false")
    best_without = best_with = 0.0
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        best_without = max(best_without, run(without, args.frames, args.warmup))
        best_with = max(best_with, run(with_element, args.frames, args.warmup))
    print(f"frames: {args.frames} ({args.caps}), best of {args.repeat}")
    print(f"without blip2caption: {best_without:10.1f} frames/s")
    print(f"with blip2caption:    {best_with:10.1f} frames/s  (frames not sampled)")
    print(f"ratio with/without:   {best_with / best_without:10.3f}  (1.000 = no cost)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
