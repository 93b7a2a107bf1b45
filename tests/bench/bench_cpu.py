"""CPU benchmark: the blip2-caption CLI against transformers' generate.

Run by hand (not by the test suite), after building the CLI and the test
fixtures:

  .venv/bin/python tests/bench/bench_cpu.py [--cli build-gen/examples/blip2-caption]
      [--fixtures build-gen/tests/fixtures] [--threads 2] [--new-tokens 20] [--repeat 5]

Checkpoints: "tiny" is the test fixture of that name; "mid" is a random
BLIP-2 OPT made here (vision 256 wide / 6 layers at 224 px, Q-Former 256 / 4
layers, 32 queries, OPT 512 wide / 6 layers / 8 heads, 50272 vocabulary rows)
with the OPT tokenizer from $BLIP2_OPT_TOKENIZER_DIR, or the fixtures' tiny
tokenizer when that is unset.

Both sides run on the CPU in float32 with the same number of threads
(torch.set_num_threads here, OMP_NUM_THREADS for the CLI) and generate exactly
--new-tokens tokens (min_new_tokens = max_new_tokens), one image per call,
prompt "a photo of". Ours: the CLI's --repeat latency report (median per
caption, model loading excluded). Transformers: the median of --repeat timed
generate calls after one warm-up call. Prints one row per model and mode:
model, mode, ours ms, transformers ms, ratio (ours / transformers; below 1 is
faster) and whether both returned the same ids.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image
from transformers import (AutoTokenizer, Blip2Config, Blip2ForConditionalGeneration, Blip2QFormerConfig,
                          Blip2VisionConfig, OPTConfig)
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = "a photo of"
MODES = {"greedy": dict(num_beams=1), "beam-5": dict(num_beams=5)}


def tokenizer_source(fixtures):
    """(folder, eos id, image id) of the tokenizer the mid checkpoint uses."""
    opt_dir = os.environ.get("BLIP2_OPT_TOKENIZER_DIR")
    if opt_dir:
        return opt_dir, 50118, 50265
    info = json.load(open(os.path.join(fixtures, "tokenizer", "info.json")))
    return os.path.join(fixtures, "tokenizer", "fast"), info["newline_id"], info["image_token_id"]


def make_mid_checkpoint(out_dir, fixtures):
    tokenizer_dir, eos, image_id = tokenizer_source(fixtures)
    vision = Blip2VisionConfig(hidden_size=256, intermediate_size=1024, num_hidden_layers=6,
                               num_attention_heads=4, image_size=224, patch_size=14)
    qformer = Blip2QFormerConfig(hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                                 num_attention_heads=4)
    text = OPTConfig(hidden_size=512, ffn_dim=2048, num_hidden_layers=6, num_attention_heads=8,
                     word_embed_proj_dim=512, vocab_size=50272, max_position_embeddings=512,
                     bos_token_id=2, pad_token_id=1, eos_token_id=eos)
    config = Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                         text_config=text.to_dict(), num_query_tokens=32, image_token_index=image_id)
    torch.manual_seed(0)
    model = Blip2ForConditionalGeneration(config).eval()
    model.save_pretrained(out_dir)
    for name in os.listdir(tokenizer_dir):
        path = os.path.join(tokenizer_dir, name)
        if os.path.isfile(path):
            shutil.copy(path, out_dir)
    BlipImageProcessorPil(size={"height": 224, "width": 224}).save_pretrained(out_dir)
    return out_dir


def write_image(path, seed):
    pixels = np.random.default_rng(seed).integers(0, 256, size=(240, 320, 3), dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(b"P6\n320 240\n255\n" + pixels.tobytes())
    return pixels


def time_transformers(model_dir, pixels, mode, new_tokens, repeat, fixtures):
    model = Blip2ForConditionalGeneration.from_pretrained(model_dir, attn_implementation="eager").eval()
    config = model.config
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    processor = BlipImageProcessorPil.from_pretrained(model_dir)
    text_ids = tokenizer(PROMPT).input_ids
    ids = torch.tensor([[config.image_token_index] * config.num_query_tokens + text_ids])
    pixel_values = processor([Image.fromarray(pixels)], return_tensors="pt").pixel_values
    kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, **MODES[mode])

    def caption():
        with torch.no_grad():
            out = model.generate(pixel_values=pixel_values, input_ids=ids,
                                 attention_mask=torch.ones_like(ids), **kwargs)
        return out[0, ids.shape[1]:].tolist()

    new_ids = caption()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        caption()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), new_ids


def time_cli(cli, model_dir, image_path, mode, new_tokens, repeat, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    command = [cli, "--model", model_dir, "--device", "cpu", "--dtype", "float32", "--prompt", PROMPT,
               "--max-new-tokens", str(new_tokens), "--min-new-tokens", str(new_tokens),
               "--num-beams", str(MODES[mode]["num_beams"]), "--repeat", str(repeat + 1), "--json",
               image_path]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    report = next(line for line in done.stderr.splitlines() if "latency" in line)
    latency = json.loads(report.split("latency", 1)[1])
    return latency["per_caption_ms"]["median"], json.loads(done.stdout.splitlines()[0])["token_ids"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "build-gen", "examples", "blip2-caption"))
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "build-gen", "tests", "fixtures"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--models", nargs="*", default=["tiny", "mid"])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = tempfile.mkdtemp(prefix="blip2-bench-")
    try:
        image_path = os.path.join(work, "image.ppm")
        pixels = write_image(image_path, seed=3)
        model_dirs = {"tiny": os.path.join(args.fixtures, "models", "tiny")}
        if "mid" in args.models:
            model_dirs["mid"] = make_mid_checkpoint(os.path.join(work, "mid"), args.fixtures)
        rows = []
        for name in args.models:
            for mode in MODES:
                ours, our_ids = time_cli(args.cli, model_dirs[name], image_path, mode, args.new_tokens,
                                         args.repeat, args.threads)
                theirs, their_ids = time_transformers(model_dirs[name], pixels, mode, args.new_tokens,
                                                      args.repeat, args.fixtures)
                rows.append((name, mode, ours, theirs, ours / theirs, our_ids == their_ids))
                print(f"  {name} {mode}: ours {ours:.1f} ms, transformers {theirs:.1f} ms", file=sys.stderr)
        print(f"CPU, {args.threads} threads, float32, {args.new_tokens} new tokens, batch 1, "
              f"median of {args.repeat}; torch {torch.__version__}")
        print(f"{'model':<6} {'mode':<7} {'ours ms':>9} {'transformers ms':>16} {'ratio':>6}  same ids")
        for name, mode, ours, theirs, ratio, same in rows:
            print(f"{name:<6} {mode:<7} {ours:>9.1f} {theirs:>16.1f} {ratio:>6.2f}  {'yes' if same else 'no'}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
