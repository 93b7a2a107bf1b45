"""What transformers makes of a checkpoint's generation_config.json.

Builds fixtures/models/tiny-gencfg: the tiny checkpoint's files (links) plus a
generation_config.json holding the decoding options of one of tiny's decisive
beam-search cases (reference/tiny/generation.json). Loads it with
transformers 5.17 and records, in reference/tiny-gencfg/generation_config.json:
  applied   generate(..., generation_config=model.generation_config), which is
            what transformers' pipelines pass: the file's options as defaults
  override  the same plus keyword arguments that turn it into one of tiny's
            greedy cases (keyword arguments override the file)
  plain_generate_uses_file
            whether a bare Blip2ForConditionalGeneration.generate() applies the
            file (in 5.17 it does not: it delegates to the language model,
            whose generation config comes from text_config)
Each recorded sequence is checked against the decisive case it reproduces, so
it keeps that case's decision margins.
"""
import argparse
import json
import os

import torch
from PIL import Image
from transformers import AutoTokenizer, Blip2ForConditionalGeneration
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

BEAM_CASE = "beams3-rep1.3"
FILE_KEYS = ("num_beams", "max_new_tokens", "repetition_penalty", "length_penalty",
             "no_repeat_ngram_size")


def read_ppm(path):
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    magic, size, maxval, pixels = data.split(b"\n", 3)
    width, height = map(int, size.split())
    return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)


def link_checkpoint(source, target):
    os.makedirs(target, exist_ok=True)
    for entry in os.listdir(source):
        link = os.path.join(target, entry)
        if entry == "generation_config.json" or os.path.lexists(link):
            continue
        os.symlink(os.path.abspath(os.path.join(source, entry)), link)


def new_ids(out, prompt_length, eos):
    ids = []
    for t in out[0, prompt_length:].tolist():
        ids.append(t)
        if t == eos:
            break
    return ids


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--stamp", required=True)
    args = ap.parse_args()
    fx = args.fixtures
    beam = next(c for c in json.load(open(os.path.join(fx, "reference", "tiny", "generation.json")))
                ["beam"] if c["name"] == BEAM_CASE)
    greedy = next(c for c in json.load(open(os.path.join(fx, "reference", "tiny", "greedy.json")))
                  ["cases"] if len(c["images"]) == 1)

    folder = os.path.join(fx, "models", "tiny-gencfg")
    link_checkpoint(os.path.join(fx, "models", "tiny"), folder)
    file_options = {k: v for k, v in beam["options"].items() if k in FILE_KEYS}
    config = json.load(open(os.path.join(folder, "config.json")))
    text = config["text_config"]
    generation_config = dict(file_options, bos_token_id=text.get("bos_token_id", 2),
                             eos_token_id=text["eos_token_id"],
                             pad_token_id=text.get("pad_token_id", 1))
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump(generation_config, f, indent=1)

    model = Blip2ForConditionalGeneration.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(fx, "tokenizer", "fast"))
    processor = BlipImageProcessorPil.from_pretrained(folder)
    c = model.config
    eos = c.text_config.eos_token_id

    def run(case, **kwargs):
        image = Image.fromarray(read_ppm(os.path.join(fx, "images", case["images"][0])))
        pixels = processor([image], return_tensors="pt").pixel_values
        prompt = case["prompt"]
        text_ids = tokenizer(prompt).input_ids if prompt else [c.text_config.bos_token_id]
        ids = torch.tensor([[c.image_token_index] * c.num_query_tokens + text_ids])
        with torch.no_grad():
            out = model.generate(pixel_values=pixels, input_ids=ids,
                                 attention_mask=torch.ones_like(ids), **kwargs)
        return new_ids(out, ids.shape[1], eos)

    applied = run(beam, generation_config=model.generation_config)
    assert applied == beam["sequences"][0], (applied, beam["sequences"][0])
    override_kwargs = dict(num_beams=1, repetition_penalty=1.0, length_penalty=1.0,
                           no_repeat_ngram_size=0, max_new_tokens=greedy["max_new_tokens"],
                           min_new_tokens=greedy["min_new_tokens"])
    override = run(greedy, generation_config=model.generation_config, **override_kwargs)
    assert override == greedy["token_ids"][0], (override, greedy["token_ids"][0])
    plain = run(beam, max_new_tokens=file_options.get("max_new_tokens", 20))

    ref = os.path.join(fx, "reference", "tiny-gencfg")
    os.makedirs(ref, exist_ok=True)
    record = {
        "generation_config": generation_config,
        "applied": {"images": beam["images"], "prompt": beam["prompt"], "token_ids": applied},
        "override": {"images": greedy["images"], "prompt": greedy["prompt"],
                     "options": override_kwargs, "token_ids": override},
        "plain_generate_uses_file": plain == applied,
    }
    with open(os.path.join(ref, "generation_config.json"), "w") as f:
        json.dump(record, f, indent=1)
    with open(args.stamp, "w") as f:
        f.write("ok\n")
    print("tiny-gencfg: applied %d ids, override %d ids, bare generate uses the file: %s"
          % (len(applied), len(override), record["plain_generate_uses_file"]))


if __name__ == "__main__":
    main()
