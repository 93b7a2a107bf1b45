#!/usr/bin/env python3
"""Full-size CPU benchmark: blip2-bench (the library's public API) against
transformers 5 on a BLIP-2 OPT-2.7B -coco checkpoint with random weights.

Run by hand (not by the test suite), on a quiet machine with ~20 GB of free
memory and ~16 GB of free disk:

  .venv/bin/python tests/bench/full_size.py [--checkpoint DIR] [--bench build/examples/blip2-bench]
      [--threads 2] [--new-tokens 12] [--size full|mid|small]

The checkpoint folder is built when it has no model.safetensors.index.json: the
-coco config.json (the re-saved convention transformers 5 needs: 50304
vocabulary rows, <image> = 50265 in front of the prompt; 364 px vision tower),
the OPT tokenizer from $BLIP2_OPT_TOKENIZER_DIR plus the <image> token, a 364
px preprocessor_config.json and two float32 shards (~15.5 GB, the tied lm_head
stored as its own copy, as the original shards do). Weights are written tensor
by tensor (never the whole model in memory): every matrix, embedding and the
query tokens drawn at std 0.02 (transformers' own init leaves the vision tower
so small that the image would not matter), biases 0, LayerNorms 1 and 0.
--size mid (~0.7 GB) or small (~0.15 GB) builds a smaller architecture of the
same layout instead (for testing this script, and for quick comparisons);
--size lm4 (~2.3 GB) keeps the full-size language model's widths and vocabulary
with 4 of its 32 layers and a small vision tower, to compare the language model's
prefill and decode quickly; --size vit (~4.3 GB) keeps the full-size vision tower
and Q-Former with a small language model.

Columns (--configs picks some): ours in float32, in bfloat16 and in bfloat16 with
int8 weights (--quantize int8), and transformers in float32, in bfloat16 and with
torchao's int8 weight-only quantization (bfloat16; only when torchao imports: pip
install torchao, which does not change torch). Each runs in its own process on the
CPU with the same number of threads, on the same random 640x480 RGB frame, prompt
"a photo of", a forced token count (min_new_tokens = max_new_tokens): load time,
time from the start of loading to the end of the first caption, then one greedy and
one beam-5 caption (after that first one), per-stage times, and the peak resident
memory split into anonymous and file-backed pages (polled from /proc every 20 ms).
--scan-off also runs ours in float32 up to its first caption with the load's
NaN/Inf weight scan off (`--check-finite no`), to show what the scan costs.
The shards are read once first (a warm page cache for every side), and the
columns alternate for --rounds rounds (default 2); each time is the best of its
rounds, each peak the largest. Transformers' stage times come from forward hooks
inside its greedy generate(): the language model's first call is the prefill,
each later call (start to start, token choice included) one decode step, as
ours counts them.
Before the runs it measures the read bandwidth (a sum over 1 GiB) and the float32
and bfloat16 matrix-product rates, and prints each stage next to its floor: decode
per token = the language model's matrices in that precision over the bandwidth,
vision = its FLOPs over the matrix rate. Then the ratios the targets are about
(ours bfloat16 + int8 against transformers float32 and bfloat16, peak RSS).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = "a photo of"
SHARD_BYTES = 10 * 10 ** 9


SIZES = {  # text, vision, qformer overrides of the full-size -coco config
    "full": ({}, {}, {}),
    "mid": (dict(ffn_dim=4096, hidden_size=1024, num_hidden_layers=8, num_attention_heads=16,
                 word_embed_proj_dim=1024),
            dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=6, num_attention_heads=8,
                 image_size=224),
            dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                 encoder_hidden_size=512)),
    "lm4": (dict(num_hidden_layers=4),  # the full-size language model's layers, only 4 of them
            dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                 image_size=224),
            dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=2, num_attention_heads=4,
                 encoder_hidden_size=256)),
    "vit": (dict(ffn_dim=1024, hidden_size=256, num_hidden_layers=2, num_attention_heads=4,
                 word_embed_proj_dim=256),  # the full-size vision tower with a small language model
            {}, {}),
    "small": (dict(ffn_dim=1024, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                   word_embed_proj_dim=256),
              dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                   image_size=224),
              dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
                   encoder_hidden_size=256)),
}


def coco_config(size="full"):
    """config.json of the -coco checkpoint (new convention; defaults elsewhere)."""
    text = dict(_name_or_path="facebook/opt-2.7b", architectures=["OPTForCausalLM"], model_type="opt",
                activation_function="relu", bos_token_id=2, pad_token_id=1, eos_token_id=50118,
                do_layer_norm_before=True, enable_bias=True, ffn_dim=10240, hidden_size=2560,
                num_hidden_layers=32, num_attention_heads=32, max_position_embeddings=2048,
                word_embed_proj_dim=2560, vocab_size=50304, prefix="</s>", torch_dtype="float16")
    vision = dict(model_type="blip_2_vision_model", image_size=364, layer_norm_eps=1e-6, dropout=0.0,
                  initializer_factor=1.0, num_channels=3, projection_dim=512)
    qformer = dict(model_type="blip_2_qformer")
    for part, overrides in zip((text, vision, qformer), SIZES[size]):
        part.update(overrides)
    return {"architectures": ["Blip2ForConditionalGeneration"], "model_type": "blip-2",
            "_name_or_path": "Salesforce/blip2-opt-2.7b-coco", "initializer_factor": 1.0,
            "initializer_range": 0.02, "num_query_tokens": 32, "torch_dtype": "float32",
            "image_token_index": 50265,
            "use_decoder_only_language_model": True, "text_config": text, "vision_config": vision,
            "qformer_config": qformer}


def tensor_layout(config_dir):
    """(name, shape) of every tensor of the model, from a meta-device instance."""
    import torch
    from transformers import Blip2Config, Blip2ForConditionalGeneration
    config = Blip2Config.from_pretrained(config_dir)
    with torch.device("meta"):
        model = Blip2ForConditionalGeneration(config)
    layout = [(name, tuple(t.shape)) for name, t in model.state_dict(keep_vars=True).items()]
    names = {n for n, _ in layout}
    if "language_model.lm_head.weight" not in names:  # the original shards store the tied head
        embed = dict(layout)["language_model.model.decoder.embed_tokens.weight"]
        layout.append(("language_model.lm_head.weight", embed))
    return layout


def random_values(name, shape, rng):
    """float32 values for one tensor: LayerNorm 1/0, biases 0, all else N(0, 0.02)."""
    lowered = name.lower()
    if "norm" in lowered and name.endswith(".weight"):
        return np.ones(shape, np.float32)
    if name.endswith(".bias"):
        return np.zeros(shape, np.float32)
    if name == "language_model.lm_head.weight":
        return None  # written as a copy of embed_tokens
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02))


def write_shards(out_dir, layout, seed=0, dtype="F32"):
    """Two-pass writer: headers from shapes, then data tensor by tensor (F32 or F16)."""
    rng = np.random.default_rng(seed)
    element = {"F32": (4, np.float32), "F16": (2, np.float16)}[dtype]
    shards, current, size = [], [], 0
    for name, shape in layout:
        nbytes = int(np.prod(shape, dtype=np.int64)) * element[0]
        if current and size + nbytes > SHARD_BYTES:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape, nbytes))
        size += nbytes
    shards.append(current)
    weight_map, embed = {}, None
    for index, shard in enumerate(shards):
        file_name = f"model-{index + 1:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {"__metadata__": {"format": "pt"}}, 0
        for name, shape, nbytes in shard:
            header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = file_name
        text = json.dumps(header).encode()
        text += b" " * (-len(text) % 8)
        with open(os.path.join(out_dir, file_name), "wb") as f:
            f.write(len(text).to_bytes(8, "little") + text)
            for name, shape, _ in shard:
                values = random_values(name, shape, rng)
                if values is None:
                    values = embed
                if name == "language_model.model.decoder.embed_tokens.weight":
                    embed = values
                f.write(np.ascontiguousarray(values, dtype=element[1]).tobytes())
        print(f"  wrote {file_name}", file=sys.stderr)
    total = sum(n for s in shards for _, _, n in s)
    json.dump({"metadata": {"total_size": total}, "weight_map": weight_map},
              open(os.path.join(out_dir, "model.safetensors.index.json"), "w"), indent=2)


def build_checkpoint(out_dir, size="full", tokenizer_dir=None, dtype="F32"):
    """The random checkpoint folder (tokenizer files from `tokenizer_dir`, by
    default $BLIP2_OPT_TOKENIZER_DIR)."""
    tokenizer_dir = tokenizer_dir or os.environ.get("BLIP2_OPT_TOKENIZER_DIR")
    if not tokenizer_dir:
        raise SystemExit("set BLIP2_OPT_TOKENIZER_DIR to the OPT tokenizer folder")
    os.makedirs(out_dir, exist_ok=True)
    config = coco_config(size)
    json.dump(config, open(os.path.join(out_dir, "config.json"), "w"), indent=2)
    size = config["vision_config"]["image_size"]
    json.dump({"do_normalize": True, "do_resize": True, "do_rescale": True, "do_convert_rgb": True,
               "image_mean": [0.48145466, 0.4578275, 0.40821073],
               "image_std": [0.26862954, 0.26130258, 0.27577711], "image_processor_type": "BlipImageProcessor",
               "processor_class": "Blip2Processor", "resample": 3, "rescale_factor": 1 / 255,
               "size": {"height": size, "width": size}},
              open(os.path.join(out_dir, "preprocessor_config.json"), "w"), indent=2)
    for name in os.listdir(tokenizer_dir):
        if os.path.isfile(os.path.join(tokenizer_dir, name)):
            shutil.copyfile(os.path.join(tokenizer_dir, name), os.path.join(out_dir, name))
    json.dump({"<image>": 50265}, open(os.path.join(out_dir, "added_tokens.json"), "w"))
    print(f"building the random checkpoint in {out_dir}", file=sys.stderr)
    write_shards(out_dir, tensor_layout(out_dir), dtype=dtype)


# ------------------------------------------------------------------ measuring a process

class MemoryPoll:
    """Peak RssAnon, RssFile and VmRSS of a process, polled from /proc."""

    def __init__(self, pid, period=0.02):
        self.pid, self.period, self.peak = pid, period, {"RssAnon": 0, "RssFile": 0, "VmRSS": 0}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                for line in open(f"/proc/{self.pid}/status"):
                    key = line.split(":")[0]
                    if key in self.peak:
                        self.peak[key] = max(self.peak[key], int(line.split()[1]) * 1024)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
            time.sleep(self.period)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak


def run_measured(command, env):
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    poll = MemoryPoll(process.pid)
    out, err = process.communicate()
    peak = poll.stop()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return out, peak


def write_frame(path):
    pixels = np.random.default_rng(7).integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    with open(path, "wb") as f:
        f.write(pixels.tobytes())
    return path


TRANSFORMERS_SIDE = r'''
import json, sys, time
import numpy as np, torch
from transformers import AutoTokenizer, Blip2ForConditionalGeneration
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
from PIL import Image
model_dir, frame, new_tokens, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
precision = sys.argv[5]  # float32, bfloat16, or int8 (torchao's int8 weight-only, bfloat16)
torch.set_num_threads(threads)
extra = {}
if precision == "int8":
    from torchao.quantization import Int8WeightOnlyConfig
    from transformers import TorchAoConfig
    extra["quantization_config"] = TorchAoConfig(Int8WeightOnlyConfig())
start = time.perf_counter()  # after the imports, as ours starts after the process did
model = Blip2ForConditionalGeneration.from_pretrained(
    model_dir, dtype=torch.float32 if precision == "float32" else torch.bfloat16,
    attn_implementation="eager", **extra).eval()
load_ms = (time.perf_counter() - start) * 1000
tokenizer = AutoTokenizer.from_pretrained(model_dir)
processor = BlipImageProcessorPil.from_pretrained(model_dir)
pixels = np.fromfile(frame, dtype=np.uint8).reshape(480, 640, 3)
pixel_values = processor([Image.fromarray(pixels)], return_tensors="pt").pixel_values
ids = tokenizer("a photo of", return_tensors="pt").input_ids
cfg = model.config
if getattr(cfg, "image_token_index", None) is not None:
    ids = torch.cat([torch.full((1, cfg.num_query_tokens), cfg.image_token_index), ids], 1)

def caption(beams):
    with torch.no_grad():
        out = model.generate(pixel_values=pixel_values, input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=new_tokens, min_new_tokens=new_tokens, num_beams=beams,
                             do_sample=False)
    return out[0, ids.shape[1]:].tolist()

def timed(fn):
    t = time.perf_counter(); r = fn(); return (time.perf_counter() - t) * 1000, r

caption(1)
first_ms = (time.perf_counter() - start) * 1000

# Stage times inside one greedy generate(), from hooks on the three parts: the
# language model's first call is the prefill, every later call one decode step
# (each step measured from the start of one call to the start of the next, so
# token choice is included, as in ours).
marks = []
def mark(name, when):
    def hook(*_args):
        marks.append((name, when, time.perf_counter()))
    return hook
for name, part in (("vision", model.vision_model), ("qformer", model.qformer),
                   ("projection", model.language_projection), ("lm", model.language_model)):
    part.register_forward_pre_hook(mark(name, "start"))
    part.register_forward_hook(mark(name, "end"))
greedy_ms, greedy_ids = timed(lambda: caption(1))
generate_end = time.perf_counter()
first = lambda name, when: next(t for n, w, t in marks if n == name and w == when)
lm_starts = [t for n, w, t in marks if n == "lm" and w == "start"]
stages = dict(vision=(first("vision", "end") - first("vision", "start")) * 1000,
              qformer=(first("projection", "end") - first("qformer", "start")) * 1000,
              prefill=(lm_starts[1] - lm_starts[0]) * 1000 if len(lm_starts) > 1 else float("nan"),
              decode_per_token=(generate_end - lm_starts[1]) * 1000 / (len(lm_starts) - 1)
              if len(lm_starts) > 1 else float("nan"))
marks.clear()
beam_ms, beam_ids = timed(lambda: caption(5))
print(json.dumps(dict(load_ms=load_ms, first_caption_ms=first_ms, greedy_ms=greedy_ms, beam5_ms=beam_ms,
                      greedy_ids=greedy_ids, stages=stages)))
'''


def measure_transformers(model_dir, frame, args, env, precision):
    out, peak = run_measured([sys.executable, "-c", TRANSFORMERS_SIDE, model_dir, frame,
                              str(args.new_tokens), str(args.threads), precision], env)
    return json.loads(out.strip().splitlines()[-1]), peak


def measure_ours(model_dir, args, env, dtype, quantize, *extra):
    work = tempfile.mkdtemp(prefix="blip2-full-")
    try:
        report = os.path.join(work, "ours.json")
        _, peak = run_measured([args.bench, "--model", model_dir, "--device", "cpu", "--dtype", dtype,
                                "--quantize", quantize,
                                "--batches", "1", "--beams", "1,5", "--new-tokens", str(args.new_tokens),
                                "--iters", "1", "--warmup", "0", "--frame", "640x480", "--frame-format", "rgb",
                                "--json", report, *extra], env)
        return json.load(open(report)), peak
    finally:
        shutil.rmtree(work, ignore_errors=True)


def warm_page_cache(model_dir):
    """Reads the shards once, so that neither side pays for (or gains from) the disk."""
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".safetensors"):
            with open(os.path.join(model_dir, name), "rb") as f:
                while f.read(64 << 20):
                    pass


def best_of(rounds):
    """Every time at its smallest over the rounds, every peak at its largest."""
    def merge(values):
        if isinstance(values[0], dict):
            return {k: merge([v[k] for v in values]) for k in values[0]}
        if isinstance(values[0], list) and values[0] and isinstance(values[0][0], dict):
            return [merge(list(group)) for group in zip(*values)]
        if isinstance(values[0], float):
            return min(values)
        return values[0]
    results = merge([r for r, _ in rounds])
    peaks = {k: max(p[k] for _, p in rounds) for k in rounds[0][1]}
    return results, peaks


# ------------------------------------------------------------------ floors

CEILINGS_SIDE = r"""
import json, sys, time
import torch
torch.set_num_threads(int(sys.argv[1]))
def best(fn, n=5):
    fn(); t = []
    for _ in range(n):
        s = time.perf_counter(); fn(); t.append(time.perf_counter() - s)
    return min(t)
big = torch.ones(1 << 28)  # 1 GiB of float32
bandwidth = big.numel() * 4 / best(lambda: big.sum(), 3)
del big
a, b = torch.randn(677, 1408), torch.randn(1408, 6144)  # a vision FFN product at 364 px
rates = {}
for name, dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
    x, y = a.to(dtype), b.to(dtype)
    rates[name] = 2 * 677 * 1408 * 6144 / best(lambda: x @ y)
print(json.dumps(dict(bandwidth=bandwidth, matmul=rates)))
"""


def measure_ceilings(args, env):
    out = subprocess.run([sys.executable, "-c", CEILINGS_SIDE, str(args.threads)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def model_costs(model_dir):
    """Parameters of the language model's matrices (read at every decode step) and
    of the rest, FLOPs of the vision tower per image and the prompt length, from the
    checkpoint's config and headers."""
    config = json.load(open(os.path.join(model_dir, "config.json")))
    v, t = config["vision_config"], config["text_config"]
    d, ff, layers, patch = v.get("hidden_size", 1408), v.get("intermediate_size", 6144), \
        v.get("num_hidden_layers", 39), v.get("patch_size", 14)
    n = (v["image_size"] // patch) ** 2 + 1
    vision_flops = layers * (n * 2 * (4 * d * d + 2 * d * ff) + 4 * n * n * d) + 2 * (n - 1) * 3 * patch * patch * d
    h, f, lm_layers = t["hidden_size"], t["ffn_dim"], t["num_hidden_layers"]
    lm_matrix = lm_layers * (4 * h * h + 2 * h * f) + t["vocab_size"] * t.get("word_embed_proj_dim", h)
    return dict(vision_flops=vision_flops, lm_matrix_params=lm_matrix,
                prompt_tokens=config["num_query_tokens"] + 4)


def floors(costs, ceilings, precision):
    """Per-stage floors in ms: decode = weight bytes / bandwidth, vision = FLOPs /
    the measured matrix rate, prefill = the larger of both."""
    rate = ceilings["matmul"]["float32" if precision == "float32" else "bfloat16"]
    weight_bytes = costs["lm_matrix_params"] * {"float32": 4, "bfloat16": 2, "int8": 1}[precision]
    decode = weight_bytes / ceilings["bandwidth"] * 1000
    prefill = max(2 * costs["lm_matrix_params"] * costs["prompt_tokens"] / rate * 1000, decode)
    return dict(vision=costs["vision_flops"] / rate * 1000, prefill=prefill, decode_per_token=decode)


# ------------------------------------------------------------------ the table

OURS = {"ours fp32": ("float32", "none"), "ours bf16": ("bfloat16", "none"),
        "ours bf16+int8": ("bfloat16", "int8")}
THEIRS = {"transformers fp32": "float32", "transformers bf16": "bfloat16",
          "transformers torchao int8": "int8"}


def torchao_importable(env):
    return subprocess.run([sys.executable, "-c", "import torchao"], env=env,
                          capture_output=True).returncode == 0


def summarize(name, result, peak):
    """One column: times in ms, memory in GiB."""
    if name in OURS:
        runs = {r["beams"]: r for r in result["runs"]}
        stages = runs[1]["stages_ms"]
        return dict(load=result["load_ms"], first=result["first_caption_ms"], greedy=runs[1]["caption_ms"],
                    beam5=runs[5]["caption_ms"], vision=stages["vision"], qformer=stages["qformer"],
                    prefill=stages["prefill"], decode_per_token=runs[1]["decode_per_token_ms"],
                    rss=peak["VmRSS"] / 2 ** 30, anon=peak["RssAnon"] / 2 ** 30,
                    file=peak["RssFile"] / 2 ** 30)
    st = result["stages"]
    return dict(load=result["load_ms"], first=result["first_caption_ms"], greedy=result["greedy_ms"],
                beam5=result["beam5_ms"], vision=st["vision"], qformer=st["qformer"], prefill=st["prefill"],
                decode_per_token=st["decode_per_token"], rss=peak["VmRSS"] / 2 ** 30,
                anon=peak["RssAnon"] / 2 ** 30, file=peak["RssFile"] / 2 ** 30)


ROWS = [("load", "load", "ms"), ("load + first caption", "first", "ms"), ("greedy caption", "greedy", "ms"),
        ("beam-5 caption", "beam5", "ms"), ("vision encoder", "vision", "ms"),
        ("Q-Former + projection", "qformer", "ms"), ("prefill", "prefill", "ms"),
        ("decode per token", "decode_per_token", "ms"), ("peak RSS", "rss", "GiB"),
        ("peak anonymous", "anon", "GiB"), ("peak file-backed", "file", "GiB")]
FLOOR_PRECISION = {"ours fp32": "float32", "transformers fp32": "float32", "ours bf16": "bfloat16",
                   "transformers bf16": "bfloat16", "ours bf16+int8": "int8",
                   "transformers torchao int8": "int8"}


def table(columns, floor_of):
    names = list(columns)
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key, unit in ROWS:
        cells = []
        for name in names:
            value = columns[name][key]
            text = f"{value:,.2f} GiB" if unit == "GiB" else f"{value:,.0f} ms"
            floor = floor_of[name].get(key)
            if floor:
                text += f" ({value / floor:.1f}x floor)"
            cells.append(text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def ratio_lines(columns):
    pairs = [("ours bf16+int8", "transformers fp32", "greedy", 0.33), ("ours bf16+int8", "transformers bf16", "greedy", 0.8),
             ("ours bf16+int8", "transformers fp32", "beam5", 0.33), ("ours bf16+int8", "transformers bf16", "beam5", 0.8),
             ("ours bf16+int8", "transformers fp32", "rss", 0.5),
             ("ours bf16+int8", "transformers torchao int8", "greedy", None),
             ("ours bf16+int8", "transformers torchao int8", "beam5", None),
             ("ours bf16", "transformers bf16", "greedy", None), ("ours bf16", "transformers bf16", "beam5", None),
             ("ours fp32", "transformers fp32", "greedy", None)]
    lines = ["", "| ratio | value | target |", "|---|---|---|"]
    for ours, theirs, key, target in pairs:
        if ours in columns and theirs in columns:
            value = columns[ours][key] / columns[theirs][key]
            verdict = "" if target is None else (f"≤ {target}: " + ("met" if value <= target else "missed"))
            lines.append(f"| {ours} / {theirs}, {key} | {value:.2f} | {verdict} |")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=os.path.expanduser("~/.cache/blip2caption/blip2-opt-2.7b-coco-random"))
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "examples", "blip2-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=12)
    ap.add_argument("--size", choices=list(SIZES), default="full", help="the architecture to build")
    ap.add_argument("--rounds", type=int, default=2,
                    help="alternating runs of each side; the table keeps each time's best round")
    ap.add_argument("--configs", default=",".join(list(OURS) + list(THEIRS)),
                    help="comma-separated columns (default: all; torchao's only when it imports)")
    ap.add_argument("--scan-off", action="store_true",
                    help="also run ours in float32 up to its first caption without the weight scan")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.checkpoint, "model.safetensors.index.json")):
        build_checkpoint(args.checkpoint, args.size)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in OURS and c not in THEIRS]
    if unknown:
        raise SystemExit(f"unknown configuration(s) {unknown}; known: {list(OURS) + list(THEIRS)}")
    notes = []
    if "transformers torchao int8" in configs and not torchao_importable(env):
        configs.remove("transformers torchao int8")
        notes.append("torchao is not importable here: no torchao column (pip install torchao; it "
                     "does not change torch)")
    ceilings = measure_ceilings(args, env)
    costs = model_costs(args.checkpoint)
    warm_page_cache(args.checkpoint)
    work = tempfile.mkdtemp(prefix="blip2-full-frame-")
    rounds = {name: [] for name in configs}
    unscanned_rounds = []
    try:
        frame = write_frame(os.path.join(work, "frame.rgb"))
        for round_index in range(args.rounds):  # alternate, so that drift hits every side alike
            for name in configs:
                print(f"round {round_index + 1}/{args.rounds}: {name} ...", file=sys.stderr)
                if name in OURS:
                    rounds[name].append(measure_ours(args.checkpoint, args, env, *OURS[name]))
                else:
                    rounds[name].append(measure_transformers(args.checkpoint, frame, args, env, THEIRS[name]))
            if args.scan_off and "ours fp32" in configs:
                unscanned_rounds.append(measure_ours(args.checkpoint, args, env, "float32", "none",
                                                     "--iters", "0", "--check-finite", "no"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    columns = {name: summarize(name, *best_of(rounds[name])) for name in configs}
    floor_of = {name: floors(costs, ceilings, FLOOR_PRECISION[name]) for name in configs}
    weight_gb = best_of(rounds[configs[0]])[0].get("weight_bytes", 0) / 1e9 if configs[0] in OURS else 0
    lines = [f"CPU, {args.threads} threads, {args.new_tokens} new tokens (forced), batch 1, best of "
             f"{args.rounds} alternating rounds; checkpoint {args.checkpoint}"
             + (f" ({weight_gb:.2f} GB of weights)" if weight_gb else "") + "; ours: blip2-bench, "
             "transformers: generate (eager attention)",
             f"measured here: read bandwidth {ceilings['bandwidth'] / 1e9:.1f} GB/s, matrix products "
             f"float32 {ceilings['matmul']['float32'] / 1e9:.0f} GFLOP/s, bfloat16 "
             f"{ceilings['matmul']['bfloat16'] / 1e9:.0f} GFLOP/s (a 677x1408 by 1408x6144 product)", ""]
    lines += table(columns, floor_of)
    lines += ratio_lines(columns)
    lines += ["", "floors (ms): " + "; ".join(
        f"{p}: vision {f['vision']:,.0f}, prefill {f['prefill']:,.0f}, decode per token {f['decode_per_token']:,.1f}"
        for p, f in ((p, floors(costs, ceilings, p)) for p in ("float32", "bfloat16", "int8"))),
        "decode floor = the language model's matrices (every layer and the head) in that precision over the "
        "read bandwidth; vision floor = its FLOPs over the matrix rate (bfloat16 for the bfloat16 and int8 "
        "columns); prefill floor = the larger of its FLOPs over that rate and the decode floor."]
    if unscanned_rounds:
        unscanned, _ = best_of(unscanned_rounds)
        lines.append(f"ours fp32 without the weight scan: load {unscanned['load_ms']:,.0f} ms, load + first "
                     f"caption {unscanned['first_caption_ms']:,.0f} ms")
    lines += [f"note: {n}" for n in notes]
    lines.append("peaks are the largest values polled every 20 ms (anonymous and file-backed peak separately).")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
