#!/usr/bin/env python3
"""Reference pixels for the C++ BLIP image processor (tests/unit/test_image_processor.cpp).

Writes into --out (and touches --stamp when done):
  * deterministic uint8 RGB test images of odd sizes (noise, gradients,
    checkerboards, sharp edges, saturated colours) as binary PPM (P6) files;
  * Pillow's `Image.resize((W, H), Image.BICUBIC)` of each one (RGB8, HWC),
    plus small noise images resized to many odd sizes (both pass orders);
  * transformers' BlipImageProcessorPil output (float32, CHW) for 224x224 and
    364x364 with the BLIP-2 mean/std, plus the preprocessor_config.json files
    that processor writes with save_pretrained;
  * RGBA and GRAY8 inputs with Pillow's `.convert("RGB")` of them;
  * I420 and NV12 inputs with the RGB a numpy port of our stated BT.601
    limited-range integer formula gives (YUV parity is against that formula,
    not against Pillow or GStreamer's videoconvert);
  * index.json describing all of the above.
All binary files are raw little-endian arrays without headers.

Which processor: in transformers 5.17, AutoImageProcessor maps model type
"blip-2" to {"torchvision": BlipImageProcessor, "pil": BlipImageProcessorPil}
and picks torchvision when it is importable. torchvision cannot be used here,
and the CPU reference this project matches is the PIL backend, so the
oracle calls BlipImageProcessorPil directly (what
AutoImageProcessor.from_pretrained(path, backend="pil") returns).
"""

import argparse
import json
import os
import tempfile

import numpy as np
from PIL import Image
from transformers import BlipImageProcessorPil

BLIP2_SIZES = (224, 364)
RESIZE_TARGETS = ((224, 224), (364, 364), (56, 70))  # (width, height)

# ---------------------------------------------------------------- images


def noise(rng, w, h):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def gradient(w, h):
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    return np.stack([x, y, 255 - (x + y) / 2], -1).round().astype(np.uint8)


def checkerboard(w, h, cell):
    yy, xx = np.mgrid[0:h, 0:w]
    on = ((xx // cell + yy // cell) % 2).astype(bool)
    img = np.zeros((h, w, 3), np.uint8)
    img[on] = (255, 255, 255)
    img[~on] = (0, 0, 0)
    return img


def saturated(w, h):
    """Vertical bands of pure colours: overshoot/undershoot at every edge."""
    colours = np.array([(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0),
                        (0, 255, 255), (255, 0, 255), (0, 0, 0), (255, 255, 255)],
                       np.uint8)
    band = np.arange(w) * len(colours) // max(w, 1)
    return np.broadcast_to(colours[band][None], (h, w, 3)).copy()


def sharp_edges(rng, w, h):
    """Rectangles and one-pixel lines of random pure colours on black."""
    img = np.zeros((h, w, 3), np.uint8)
    for _ in range(12):
        x0, x1 = sorted(rng.integers(0, w + 1, 2))
        y0, y1 = sorted(rng.integers(0, h + 1, 2))
        img[y0:y1 + 1, x0:x1 + 1] = rng.choice([0, 255], 3)
    img[:, ::7] = (255, 255, 255)
    img[::5, :] = (0, 0, 0)
    return img


def mixed(rng, w, h):
    img = gradient(w, h)
    img[: h // 2, : w // 2] = checkerboard(w // 2, h // 2, 3)
    img[h // 2:, w // 2:] = saturated(w - w // 2, h - h // 2)
    img[: h // 2, w // 2:] = noise(rng, w - w // 2, h // 2)
    return img


def make_images(rng):
    return [
        ("noise_1x1", noise(rng, 1, 1)),
        ("noise_1x7", noise(rng, 1, 7)),
        ("noise_7x1", noise(rng, 7, 1)),
        ("checker_2x2", checkerboard(2, 2, 1)),
        ("grad_13x17", gradient(13, 17)),
        ("noise_13x17", noise(rng, 13, 17)),
        ("edges_224x224", sharp_edges(rng, 224, 224)),
        ("noise_224x224", noise(rng, 224, 224)),
        ("saturated_300x200", saturated(300, 200)),
        ("mixed_640x480", mixed(rng, 640, 480)),
        ("noise_57x1023", noise(rng, 57, 1023)),
        ("checker_1023x57", checkerboard(1023, 57, 1)),
        ("edges_364x364", sharp_edges(rng, 364, 364)),
        ("stripes_4001x3", checkerboard(4001, 3, 2)),
    ]

# ---------------------------------------------------------------- writers


def write_ppm(path, rgb):
    h, w, _ = rgb.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(np.ascontiguousarray(rgb, np.uint8).tobytes())


def write_raw(path, array, dtype):
    np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tofile(path)


def blip_processor(size):
    return BlipImageProcessorPil(size={"height": size, "width": size})


def save_processor_config(out, size):
    """The preprocessor_config.json transformers itself writes for BLIP-2."""
    with tempfile.TemporaryDirectory() as tmp:
        blip_processor(size).save_pretrained(tmp)
        with open(os.path.join(tmp, "preprocessor_config.json")) as f:
            text = f.read()
    name = f"preprocessor_config_{size}.json"
    with open(os.path.join(out, name), "w") as f:
        f.write(text)
    return name


def reference_for_image(out, name, rgb, processors):
    h, w, _ = rgb.shape
    entry = {"name": name, "width": w, "height": h, "ppm": f"{name}.ppm",
             "resized": [], "pixels": []}
    write_ppm(os.path.join(out, entry["ppm"]), rgb)
    image = Image.fromarray(rgb, "RGB")
    for tw, th in RESIZE_TARGETS:
        resized = np.asarray(image.resize((tw, th), Image.BICUBIC))
        file = f"{name}_resized_{tw}x{th}.rgb"
        write_raw(os.path.join(out, file), resized, np.uint8)
        entry["resized"].append({"width": tw, "height": th, "file": file})
    for size, (processor, config) in processors.items():
        pixels = processor(images=image, return_tensors="np")["pixel_values"]
        assert pixels.dtype == np.float32 and pixels.shape == (1, 3, size, size)
        file = f"{name}_pixels_{size}.f32"
        write_raw(os.path.join(out, file), pixels[0], np.float32)
        entry["pixels"].append({"size": size, "config": config, "file": file})
    return entry


def resize_cases(out, rng):
    """Extra Pillow resizes of small noise images: both pass orders around
    Pillow 13's switch (vertical first iff the height drops by more than
    twice the width's drop), one-axis resizes, and random size pairs."""
    pairs = [((100, 100), (90, 80)), ((100, 100), (91, 80)), ((100, 100), (110, 79)),
             ((100, 100), (100, 37)), ((100, 100), (37, 100)), ((1, 50), (1, 3)),
             ((50, 1), (3, 1)), ((3, 200), (400, 2)), ((200, 3), (2, 400))]
    for _ in range(40):
        src = tuple(int(v) for v in rng.integers(1, 65, 2))
        dst = tuple(int(v) for v in rng.integers(1, 97, 2))
        pairs.append((src, dst))
    entries = []
    for i, ((w, h), (tw, th)) in enumerate(pairs):
        rgb = noise(rng, w, h)
        name = f"resize_case_{i}_{w}x{h}_to_{tw}x{th}"
        write_ppm(os.path.join(out, name + ".ppm"), rgb)
        resized = np.asarray(Image.fromarray(rgb, "RGB").resize((tw, th), Image.BICUBIC))
        write_raw(os.path.join(out, name + ".rgb"), resized, np.uint8)
        entries.append({"ppm": name + ".ppm", "width": w, "height": h, "target_width": tw,
                        "target_height": th, "file": name + ".rgb"})
    return entries


def rgba_references(out, rng):
    """RGBA input -> Pillow's convert("RGB") (drops alpha)."""
    entries = []
    for w, h in ((1, 1), (13, 17), (64, 33)):
        rgba = rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8)
        rgb = np.asarray(Image.fromarray(rgba, "RGBA").convert("RGB"))
        name = f"rgba_{w}x{h}"
        write_raw(os.path.join(out, name + ".rgba"), rgba, np.uint8)
        write_raw(os.path.join(out, name + ".rgb"), rgb, np.uint8)
        entries.append({"width": w, "height": h, "input": name + ".rgba",
                        "expected_rgb": name + ".rgb"})
    return entries


def gray_references(out, rng):
    """GRAY8 ("L") input -> Pillow's convert("RGB") (R = G = B = L)."""
    entries = []
    for w, h in ((1, 1), (7, 1), (13, 17), (64, 33)):
        gray = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
        gray.flat[0], gray.flat[-1] = 0, 255
        rgb = np.asarray(Image.fromarray(gray, "L").convert("RGB"))
        name = f"gray_{w}x{h}"
        write_raw(os.path.join(out, name + ".gray"), gray, np.uint8)
        write_raw(os.path.join(out, name + ".rgb"), rgb, np.uint8)
        entries.append({"width": w, "height": h, "input": name + ".gray",
                        "expected_rgb": name + ".rgb"})
    return entries

# ---------------------------------------------------------------- YUV

# BT.601 limited range: Y in [16, 235], Cb/Cr in [16, 240]; Kr = 0.299,
# Kb = 0.114. Coefficients in 16.16 fixed point, each rounded to nearest.
YUV_SHIFT = 16
KR, KB = 0.299, 0.114
KG = 1.0 - KR - KB
Y_SCALE = 255.0 / 219.0
C_SCALE = 255.0 / 224.0


def fixed(value):
    return int(round(value * (1 << YUV_SHIFT)))


COEF_Y = fixed(Y_SCALE)
COEF_RV = fixed(C_SCALE * 2 * (1 - KR))
COEF_GU = fixed(C_SCALE * 2 * (1 - KB) * KB / KG)
COEF_GV = fixed(C_SCALE * 2 * (1 - KR) * KR / KG)
COEF_BU = fixed(C_SCALE * 2 * (1 - KB))


def yuv_to_rgb(y, u, v):
    """y: [h, w]; u, v: chroma upsampled to [h, w] by repetition (nearest).

    c = 16.16 sum + 0.5 (i.e. + 2^15), floor (arithmetic >> 16), clamp to [0, 255].
    """
    y = y.astype(np.int64) - 16
    u = u.astype(np.int64) - 128
    v = v.astype(np.int64) - 128
    half = 1 << (YUV_SHIFT - 1)
    r = COEF_Y * y + COEF_RV * v + half
    g = COEF_Y * y - COEF_GU * u - COEF_GV * v + half
    b = COEF_Y * y + COEF_BU * u + half
    rgb = np.stack([r, g, b], -1) >> YUV_SHIFT
    return np.clip(rgb, 0, 255).astype(np.uint8)


def upsample_chroma(c, w, h):
    return c.repeat(2, 0).repeat(2, 1)[:h, :w]


def yuv_references(out, rng):
    entries = []
    for w, h in ((1, 1), (2, 2), (7, 1), (1, 7), (13, 17), (64, 33)):
        cw, ch = (w + 1) // 2, (h + 1) // 2
        y = rng.integers(0, 256, size=(h, w), dtype=np.uint8)
        u = rng.integers(0, 256, size=(ch, cw), dtype=np.uint8)
        v = rng.integers(0, 256, size=(ch, cw), dtype=np.uint8)
# Extremes to exercise the clamping on both sides.
        y.flat[0], u.flat[0], v.flat[0] = 255, 255, 255
        y.flat[-1], u.flat[-1], v.flat[-1] = 0, 0, 0
        rgb = yuv_to_rgb(y, upsample_chroma(u, w, h), upsample_chroma(v, w, h))
        i420 = np.concatenate([y.ravel(), u.ravel(), v.ravel()])
        nv12 = np.concatenate([y.ravel(), np.stack([u, v], -1).ravel()])
        base = f"yuv_{w}x{h}"
        write_raw(os.path.join(out, base + ".i420"), i420, np.uint8)
        write_raw(os.path.join(out, base + ".nv12"), nv12, np.uint8)
        write_raw(os.path.join(out, base + ".rgb"), rgb, np.uint8)
        for fmt, file in (("I420", base + ".i420"), ("NV12", base + ".nv12")):
            entries.append({"format": fmt, "width": w, "height": h, "input": file,
                            "expected_rgb": base + ".rgb"})
    return entries

# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--stamp", required=True, help="file touched on success")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rng = np.random.default_rng(20240229)
    processors = {
size: (blip_processor(size), save_processor_config(args.out, size))
                  for size in BLIP2_SIZES}
    index = {
        "images": [reference_for_image(args.out, name, rgb, processors)
                   for name, rgb in make_images(rng)],
        "resize_cases": resize_cases(args.out, rng),
        "rgba": rgba_references(args.out, rng),
        "gray": gray_references(args.out, rng),
        "yuv": yuv_references(args.out, rng),
        "yuv_coefficients": {"shift": YUV_SHIFT, "y": COEF_Y, "rv": COEF_RV,
                             "gu": COEF_GU, "gv": COEF_GV, "bu": COEF_BU},
    }
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    with open(args.stamp, "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
