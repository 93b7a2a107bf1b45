# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generated raw I420 clips for the change-sampling measurements.

Every clip is made by gst-launch-1.0 (videotestsrc) or, for camera-like
scenes, by numpy when it is available. Nothing is downloaded.
"""
import os
import subprocess
import tempfile

WIDTH, HEIGHT, FPS = 320, 240, 10
FRAME_BYTES = WIDTH * HEIGHT * 3 // 2


def videotestsrc(frames, pattern, extra="", width=WIDTH, height=HEIGHT, fps=FPS):
    """Raw I420 bytes of `frames` frames of a videotestsrc pattern."""
    with tempfile.NamedTemporaryFile(suffix=".i420", delete=False) as f:
        path = f.name
    try:
        pipeline = (f"videotestsrc num-buffers={frames} pattern={pattern} {extra} ! "
                    f"video/x-raw,format=I420,width={width},height={height},framerate={fps}/1 ! "
                    f"filesink location={path}")
        subprocess.run(["gst-launch-1.0", "-q"] + pipeline.split(), check=True,
                       stdout=subprocess.DEVNULL)
        with open(path, "rb") as f:
            data = f.read()
    finally:
        os.unlink(path)
    assert len(data) == frames * width * height * 3 // 2, (pattern, len(data))
    return data


def camera_scene(frames, seed, noise=4.0, flicker=0.02, width=WIDTH, height=HEIGHT):
    """A still scene as a camera films it: smooth shapes, per-frame sensor
    noise of `noise` luma levels (sigma) and exposure flicker of +-`flicker`.
    Needs numpy."""
    import numpy as np
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    scene = np.full((height, width), 90.0, np.float32) + 60 * (y / height)
    for _ in range(12):  # soft blobs of random size and brightness
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(10, 70)
        scene += rng.uniform(-70, 70) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))
    chroma = np.full((height // 2) * (width // 2) * 2, 128, np.uint8).tobytes()
    out = bytearray()
    for _ in range(frames):
        gain = 1.0 + rng.uniform(-flicker, flicker)
        luma = scene * gain + rng.normal(0.0, noise, scene.shape)
        out += np.clip(luma, 16, 235).astype(np.uint8).tobytes() + chroma
    return bytes(out)
