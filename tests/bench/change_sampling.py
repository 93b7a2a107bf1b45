#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Clock sampling vs change sampling on a generated clip with known cuts.

The clip is videotestsrc patterns concatenated: still stretches, a moving
ball, a pan, each cut at a known time. The element runs on it twice in
offline mode (deterministic): sampling=clock (one caption per `interval`)
and sampling=change (a caption when the picture changes, at most every
`min-interval`, at least every `interval`). Printed: the captions computed
and the cues emitted by each mode, the change mode's cut detection (recall
and false triggers against the known cuts) and the inference time saved.

  tests/bench/change_sampling.sh [build]   (uses the build's plugin and tiny model)
"""
import argparse
import os
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstApp", "1.0")
from gi.repository import Gst, GstApp  # noqa: E402,F401

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clips  # noqa: E402

SEC = Gst.SECOND
# (pattern, seconds, videotestsrc properties): each stretch starts with a cut.
SCRIPT = [
    ("smpte", 8, ""),
    ("pinwheel", 6, ""),
    ("ball", 8, ""),                       # moving ball: one shot
    ("gradient", 5, ""),
    ("circular", 7, ""),
    ("smpte75", 4, "horizontal-speed=1"),  # slow pan
    ("red", 3, ""),
    ("spokes", 9, ""),
]


def make_clip(path):
    """Writes the clip; returns the cut times and the (start, end) of pans."""
    cuts, pans, t = [], [], 0
    with open(path, "wb") as f:
        for i, (pattern, seconds, extra) in enumerate(SCRIPT):
            if i:
                cuts.append(t * SEC)
            if "speed" in extra:
                pans.append((t * SEC, (t + seconds) * SEC))
            f.write(clips.videotestsrc(seconds * clips.FPS, pattern, extra))
            t += seconds
    return cuts, pans, t * SEC


def run(clip, model, props):
    desc = (f"filesrc location={clip} ! rawvideoparse format=i420 width={clips.WIDTH} "
            f"height={clips.HEIGHT} framerate={clips.FPS}/1 ! "
            f"blip2caption name=c model={model} device=cpu mode=offline {props} ! fakesink "
            f"c.text_src ! queue ! appsink name=text sync=false emit-signals=true")
    pipeline = Gst.parse_launch(desc)
    captions, cues = [], []

    def on_sample(sink):
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        cues.append((buf.pts, buf.duration, bytes(info.data).decode()))
        buf.unmap(info)
        return Gst.FlowReturn.OK

    pipeline.get_by_name("text").connect("new-sample", on_sample)
    bus = pipeline.get_bus()
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        msg = bus.timed_pop_filtered(600 * SEC, Gst.MessageType.ELEMENT | Gst.MessageType.EOS
                                     | Gst.MessageType.ERROR)
        if msg is None:
            raise SystemExit("timed out")
        if msg.type == Gst.MessageType.ERROR:
            raise SystemExit(f"error: {msg.parse_error()}")
        if msg.type == Gst.MessageType.EOS:
            break
        s = msg.get_structure()
        if s.get_name() == "blip2caption":
            captions.append({k: s.get_value(k) for k in
                             ("caption", "frame-pts", "inference-time", "trigger", "repeat")})
    element = pipeline.get_by_name("c")
    counters = {k: element.get_property(k) for k in ("frames-sampled", "frames-unchanged",
                                                     "frames-skipped", "captions")}
    pipeline.set_state(Gst.State.NULL)
    return captions, cues, counters


def ts(ns):
    return "   --   " if ns is None or ns == Gst.CLOCK_TIME_NONE else f"{ns / SEC:7.2f}s"


def show(name, captions, cues, counters):
    print(f"\n== {name}: {len(captions)} captions computed, {len(cues)} cues emitted "
          f"(frames sampled {counters['frames-sampled']}, unchanged "
          f"{counters['frames-unchanged']}, skipped while busy {counters['frames-skipped']})")
    print("captions computed (frame time, trigger, repeat of the previous, text):")
    for c in captions:
        print(f"  {ts(c['frame-pts'])} {c['trigger']:8s} {'repeat' if c['repeat'] else '      '} "
              f"{c['caption']!r}")
    print("cues emitted (start, end, text):")
    for pts, dur, text in cues:
        end = pts + dur if dur != Gst.CLOCK_TIME_NONE else None
        print(f"  {ts(pts)} {ts(end)} {text!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--interval", type=float, default=1.0, help="clock interval, s")
    ap.add_argument("--max-interval", type=float, default=10.0, help="change mode interval, s")
    ap.add_argument("--min-interval", type=float, default=1.0, help="change mode min-interval, s")
    ap.add_argument("--caption-seconds", type=float, default=14.0,
                    help="seconds one caption of the full-size model takes, for the projection")
    args = ap.parse_args()
    Gst.init(None)

    with tempfile.TemporaryDirectory() as tmp:
        clip = os.path.join(tmp, "clip.i420")
        cuts, pans, length = make_clip(clip)
        print(f"clip: {clips.WIDTH}x{clips.HEIGHT} I420, {clips.FPS} fps, {length / SEC:.0f} s, "
              f"{len(cuts)} cuts at " + ", ".join(f"{c / SEC:g}" for c in cuts) + " s")
        common = "max-new-tokens=6 min-new-tokens=2"
        clock = run(clip, args.model, f"{common} sampling=clock interval={int(args.interval * SEC)}")
        change = run(clip, args.model,
                     f"{common} sampling=change interval={int(args.max_interval * SEC)} "
                     f"min-interval={int(args.min_interval * SEC)}")

    show(f"clock, interval {args.interval:g} s", *clock)
    show(f"change, min-interval {args.min_interval:g} s, interval {args.max_interval:g} s", *change)

    # Cut detection: a change-triggered caption within min-interval after a cut.
    window = int(args.min_interval * SEC) + SEC // clips.FPS
    changes = [c["frame-pts"] for c in change[0] if c["trigger"] == "change"]
    found = [cut for cut in cuts if any(cut <= t <= cut + window for t in changes)]
    others = [t for t in changes if not any(cut <= t <= cut + window for cut in cuts)]
    drift = [t for t in others if any(a <= t < b for a, b in pans)]
    false = [t for t in others if t not in drift]
    print("\n== cut detection (change mode)")
    print(f"recall: {len(found)}/{len(cuts)} cuts ({100.0 * len(found) / len(cuts):.0f}%); "
          f"false triggers: {len(false)}" + (" at " + ", ".join(f"{t / SEC:.1f}s" for t in false)
                                             if false else "")
          + f"; re-captions as the slow pan drifts (by design): {len(drift)}")
    missed = [c for c in cuts if c not in found]
    if missed:
        print("missed cuts at " + ", ".join(f"{c / SEC:g}s" for c in missed))

    n_clock, n_change = len(clock[0]), len(change[0])
    t_clock = sum(c["inference-time"] for c in clock[0]) / SEC
    t_change = sum(c["inference-time"] for c in change[0]) / SEC
    print("\n== inference")
    print(f"{'mode':8s} {'captions':>9s} {'cues':>6s} {'inference (tiny model)':>23s} "
          f"{'at %gs per caption' % args.caption_seconds:>20s}")
    for name, n, cues, t in (("clock", n_clock, len(clock[1]), t_clock),
                             ("change", n_change, len(change[1]), t_change)):
        print(f"{name:8s} {n:9d} {cues:6d} {t:22.2f}s {n * args.caption_seconds:19.0f}s")
    saved = 1.0 - n_change / n_clock if n_clock else 0.0
    print(f"saved: {n_clock - n_change} captions ({100.0 * saved:.0f}%), "
          f"{t_clock - t_change:.2f} s of tiny-model inference, "
          f"{(n_clock - n_change) * args.caption_seconds:.0f} s at {args.caption_seconds:g} s "
          f"per caption (ratio change/clock {n_change / n_clock:.2f})")


if __name__ == "__main__":
    main()
