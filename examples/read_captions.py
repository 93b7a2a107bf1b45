#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Read blip2caption's results from Python (PyGObject), without our headers.

Two routes, both printed:
  * the "Blip2CaptionMeta" GstCustomMeta on video buffers, read in a pad probe
    after the element (buffer.get_custom_meta("Blip2CaptionMeta")),
  * the "blip2caption" element messages on the bus.

Usage:
  read_captions.py [--model M] [--file in.mp4] [--frames N] [--interval S]
                   [--live] [--expect N]

Without --file, videotestsrc makes N frames (default 90, 30 fps). --expect N
exits with status 1 unless exactly N captions came by both routes (for tests).
Needs python3-gi and gir1.2-gstreamer-1.0; the plugin is found through
GST_PLUGIN_PATH (e.g. GST_PLUGIN_PATH=build/gst).
"""
import argparse
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

META_NAME = "Blip2CaptionMeta"
_print_lock = threading.Lock()


def say(line):
    """One whole line at a time: the probe and the bus watch run on different threads."""
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def describe(s):
    """The fields the meta and the message share, as one line."""
    pts = s.get_value("frame-pts")
    return (f"[{pts / Gst.SECOND:8.3f} s] \"{s.get_value('caption')}\" "
            f"(prompt \"{s.get_value('prompt')}\", {s.get_value('token-count')} tokens, "
            f"{s.get_value('inference-time') / Gst.MSECOND:.1f} ms)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="Salesforce/blip2-opt-2.7b-coco",
                    help="checkpoint folder or Hugging Face repo id (local cache)")
    ap.add_argument("--file", help="a video file (default: videotestsrc)")
    ap.add_argument("--frames", type=int, default=90, help="videotestsrc frames (30 fps)")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between captions")
    ap.add_argument("--live", action="store_true", help="a live test source (live mode)")
    ap.add_argument("--expect", type=int, help="exit 1 unless exactly this many captions")
    args = ap.parse_args()

    Gst.init(None)
    if args.file:
        source = f'filesrc location="{args.file}" ! decodebin ! videoconvert'
    else:
        source = (f"videotestsrc num-buffers={args.frames} is-live={str(args.live).lower()} ! "
                  "video/x-raw,width=320,height=240,framerate=30/1")
    pipeline = Gst.parse_launch(
        f"{source} ! blip2caption name=c model=\"{args.model}\" "
        f"interval={int(args.interval * Gst.SECOND)} ! fakesink name=sink")

    from_meta, from_bus = [], []

    def on_buffer(pad, info):
        buf = info.get_buffer()
        meta = buf.get_custom_meta(META_NAME)
        if meta is not None:
            s = meta.get_structure()
            from_meta.append(s.get_value("frame-pts"))
            say("meta    " + describe(s))
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, on_buffer)

    loop = GLib.MainLoop()
    status = {"error": None}

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.has_name("blip2caption"):
            s = msg.get_structure()
            from_bus.append(s.get_value("frame-pts"))
            say("message " + describe(s) +
                f" running-time {s.get_value('running-time') / Gst.SECOND:.3f} s")
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            status["error"] = f"{err.message} ({debug})"
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        print("error:", msg.parse_error()[0].message if msg else "could not start", file=sys.stderr)
        return 1
    loop.run()
    element = pipeline.get_by_name("c")
    print(f"captions {element.get_property('captions')}, frames sampled "
          f"{element.get_property('frames-sampled')}, skipped "
          f"{element.get_property('frames-skipped')}, mean inference "
          f"{element.get_property('mean-inference-time'):.1f} ms")
    pipeline.set_state(Gst.State.NULL)
    if status["error"]:
        print("error:", status["error"], file=sys.stderr)
        return 1
    if args.expect is not None:
        ok = len(from_bus) == args.expect and (args.live or sorted(from_meta) == sorted(from_bus))
        if not ok:
            print(f"expected {args.expect} captions, got {len(from_bus)} messages and "
                  f"{len(from_meta)} metas", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
