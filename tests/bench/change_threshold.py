#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""How the default `change-threshold` was chosen.

Runs the element's own thumbnail code (the change-thumbnails tool) on
generated clips and prints two tables:
  1. within one shot (nothing a caption should follow): the largest
     thumbnail distance between any two frames of a 10 s clip (the
     reference frame can be any earlier frame of the shot);
  2. across cuts: the distance between the first frames of every pair of
     different still pictures.
A good threshold lies above table 1 and below most of table 2. The script
prints the pairs of pictures that a threshold cannot tell apart.

  tests/bench/change_threshold.py [BUILD_DIR] [--threshold T]
"""
import argparse
import itertools
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clips  # noqa: E402

SHOTS = [  # name, frames of a 10 s shot
    ("ball (moving)", lambda n: clips.videotestsrc(n, "ball")),
    ("snow (TV static)", lambda n: clips.videotestsrc(n, "snow")),
    ("camera still, noise 4", lambda n: clips.camera_scene(n, seed=1, noise=4.0)),
    ("camera still, noise 12, flicker 5%", lambda n: clips.camera_scene(n, seed=2, noise=12.0,
                                                                         flicker=0.05)),
]
# Continuous motion: the picture drifts away from the captioned frame, and is
# captioned again once the drift passes the threshold (by design).
PANS = [("smpte, pan 2 px/frame", lambda n: clips.videotestsrc(n, "smpte", "horizontal-speed=2")),
        ("zone plate, animated", lambda n: clips.videotestsrc(n, "zone-plate", "kx2=20 ky2=20 kt=1"))]
STILLS = ["smpte", "black", "white", "red", "green", "blue", "checkers-1", "checkers-8",
          "circular", "smpte75", "zone-plate", "gamut", "chroma-zone-plate", "ball", "bar",
          "pinwheel", "spokes", "gradient", "colors", "smpte-rp-219", "snow"]


def thumbnails(tool, data):
    with tempfile.NamedTemporaryFile(suffix=".i420", delete=False) as f:
        f.write(data)
        path = f.name
    try:
        out = subprocess.run([tool, str(clips.WIDTH), str(clips.HEIGHT), path], check=True,
                             capture_output=True, text=True).stdout
    finally:
        os.unlink(path)
    rows = [line.split() for line in out.splitlines()]
    thumbs = [[int(v) for v in row[1:]] for row in rows]
    for row, a, b in zip(rows[1:], thumbs, thumbs[1:]):  # the mirror below is exact
        assert abs(float(row[0]) - distance(b, a)) < 1e-6, (row[0], distance(b, a))
    return thumbs


def distance(a, b):  # LumaThumbnail::distance, mirrored (checked against it above)
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    layout = sum(abs((x - ma) - (y - mb)) for x, y in zip(a, b)) / n
    return (layout + 0.5 * abs(ma - mb)) / 255.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--threshold", type=float, default=0.035)
    args = ap.parse_args()
    tool = os.path.join(args.build, "tests", "change-thumbnails")
    n = 10 * clips.FPS

    print(f"clips: {clips.WIDTH}x{clips.HEIGHT} I420, {clips.FPS} fps, 10 s shots\n")
    print("1. within a shot: largest distance between any two frames / between neighbours")
    print(f"{'shot':40s} {'any pair':>9s} {'neighbours':>11s}")
    within = []
    for name, make in SHOTS:
        t = thumbnails(tool, make(n))
        worst = max(distance(a, b) for a, b in itertools.combinations(t, 2))
        step = max(distance(a, b) for a, b in zip(t, t[1:]))
        within.append(worst)
        print(f"{name:40s} {worst:9.4f} {step:11.4f}")
    for name, make in PANS:
        t = thumbnails(tool, make(n))
        after = [distance(t[0], t[k * clips.FPS]) for k in (1, 2, 5)]
        print(f"{name:40s} drift from the first frame after 1 / 2 / 5 s: "
              + " / ".join(f"{d:.4f}" for d in after))

    print("\n2. across cuts: distance between the first frames of two different pictures")
    firsts = {p: thumbnails(tool, clips.videotestsrc(1, p))[0] for p in STILLS}
    firsts["camera still A"] = thumbnails(tool, clips.camera_scene(1, seed=1))[0]
    firsts["camera still B"] = thumbnails(tool, clips.camera_scene(1, seed=3))[0]
    pairs = sorted((distance(firsts[a], firsts[b]), a, b)
                   for a, b in itertools.combinations(firsts, 2))
    ds = [d for d, _, _ in pairs]
    pct = lambda q: ds[min(len(ds) - 1, int(q * len(ds)))]  # noqa: E731
    print(f"{len(pairs)} pairs: min {ds[0]:.4f}, 5% {pct(0.05):.4f}, 10% {pct(0.10):.4f}, "
          f"median {pct(0.5):.4f}")

    print(f"\nthreshold {args.threshold}: largest within-shot distance {max(within):.4f} "
          f"({'below' if max(within) < args.threshold else 'NOT below'} the threshold)")
    missed = [(d, a, b) for d, a, b in pairs if d < args.threshold]
    print(f"cuts detected: {len(pairs) - len(missed)}/{len(pairs)} "
          f"({100.0 * (len(pairs) - len(missed)) / len(pairs):.1f}%); pairs below the threshold:")
    for d, a, b in missed:
        print(f"  {d:.4f}  {a} / {b}")


if __name__ == "__main__":
    main()
