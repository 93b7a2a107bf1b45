"""Tiny random BLIP-2 OPT checkpoints and their transformers reference outputs.

The oracle: transformers' Blip2ForConditionalGeneration (eager attention,
float32, CPU) and its PIL-backed BLIP image processor. Everything is made from
fixed seeds at test time; nothing here is committed.

Writes under --fixtures (next to the tokenizer made by make_tokenizer.py):
  images/*.ppm                      test pictures (binary PPM) of odd sizes
  models/<name>/                    save_pretrained checkpoints (+ tokenizer and
                                    preprocessor files) for several shapes:
    tiny         new convention (<image> token), 56 px, tokenizer.json
    tiny-legacy  old convention (no <image>), vocab.json + merges.txt, a stored
                 lm_head copy, vocab padded to a multiple of 8 (like 50272)
    tiny-proj    word_embed_proj_dim != hidden_size (project_in/out), 70 px,
                 sharded safetensors with an index, legacy files + added_tokens.json
    tiny-coco    364 px like blip2-opt-2.7b-coco (default prompt "a photo of")
  reference/<name>/activations.safetensors   pixel_values, image_embeds,
                 query_output, language_inputs, logits (image 0 + prompt 0)
  reference/<name>/greedy.json      greedy captions: image, prompt, lengths,
                 token_ids (new tokens, EOS included), text, min top-1 margin

Weights are re-drawn with unit-scale statistics (not HF's 0.02 init) so the
top logits are decisive: every greedy step's top-1/top-2 margin is recorded
and the seed is changed until the smallest margin is comfortable.
"""
import argparse
import json
import os
import shutil

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import (AutoTokenizer, Blip2Config, Blip2ForConditionalGeneration,
                          Blip2QFormerConfig, Blip2VisionConfig, OPTConfig)
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

MIN_MARGIN = 0.01  # smallest acceptable top-1 minus top-2 logit over all greedy steps
PROMPTS = ["", "a photo of", "Question: what is it? Answer:"]
IMAGES = {  # name: (width, height)
    "gradient-64x48.ppm": (64, 48),
    "noise-33x77.ppm": (33, 77),
    "checker-100x100.ppm": (100, 100),
    "stripes-640x480.ppm": (640, 480),
    "pixel-1x1.ppm": (1, 1),
}

SPECS = {
    "tiny": dict(first_attempt=11, image_size=56, vision=(48, 96, 3, 4), qformer=(32, 64, 3, 4), text=(64, 128, 3, 4, 64),
                 queries=8, convention="new", tokenizer="fast", vocab_multiple=64, shard=None,
                 lm_head_copy=False, eos_bias=2.0),
    "tiny-legacy": dict(first_attempt=38, image_size=42, vision=(32, 64, 2, 2), qformer=(24, 48, 2, 2), text=(48, 96, 2, 3, 48),
                        queries=6, convention="legacy", tokenizer="legacy", vocab_multiple=8, shard=None,
                        lm_head_copy=True, eos_bias=1.0),
    "tiny-proj": dict(first_attempt=1, image_size=70, vision=(40, 80, 2, 4), qformer=(32, 64, 4, 2), text=(64, 96, 2, 4, 48),
                      queries=5, convention="new", tokenizer="legacy-image", vocab_multiple=64, shard="60KB",
                      lm_head_copy=False, eos_bias=0.0, embed_std=0.6),
    "tiny-coco": dict(first_attempt=13, image_size=364, vision=(32, 64, 2, 4), qformer=(32, 64, 2, 4), text=(48, 96, 2, 4, 48),
                      queries=4, convention="new", tokenizer="fast", vocab_multiple=64, shard=None,
                      lm_head_copy=False, eos_bias=2.0),
}
GREEDY_CASES = [  # (image index, prompt index, max_new_tokens, min_new_tokens)
    (0, 0, 12, 0), (1, 1, 12, 0), (2, 2, 10, 0), (3, 0, 16, 0), (4, 1, 8, 0),
    (0, 1, 20, 15), (2, 0, 1, 0),
]


def make_image(name, width, height, rng):
    if name.startswith("gradient"):
        y, x = np.mgrid[0:height, 0:width]
        pix = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                        (x + y) * 127 // max(width + height - 2, 1)], axis=-1)
    elif name.startswith("checker"):
        y, x = np.mgrid[0:height, 0:width]
        on = ((x // 10 + y // 10) % 2).astype(np.int64)
        pix = np.stack([on * 230 + 10, (1 - on) * 200 + 20, on * 90 + 60], axis=-1)
    elif name.startswith("stripes"):
        y, x = np.mgrid[0:height, 0:width]
        pix = np.stack([(x * 7) % 256, (y * 3) % 256, ((x // 32) % 2) * 255], axis=-1)
    else:
        pix = rng.integers(0, 256, size=(height, width, 3))
    return pix.astype(np.uint8)


def write_ppm(path, pixels):
    h, w, _ = pixels.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(pixels.tobytes())


def build_config(spec, tokenizer_info):
    vh, vi, vl, vn = spec["vision"]
    qh, qi, ql, qn = spec["qformer"]
    th, tf, tl, tn, tproj = spec["text"]
    n_ids = tokenizer_info["image_token_id"] + 1
    vocab = -(-n_ids // spec["vocab_multiple"]) * spec["vocab_multiple"]
    vision = Blip2VisionConfig(hidden_size=vh, intermediate_size=vi, num_hidden_layers=vl,
                               num_attention_heads=vn, image_size=spec["image_size"], patch_size=14)
    qformer = Blip2QFormerConfig(hidden_size=qh, intermediate_size=qi, num_hidden_layers=ql,
                                 num_attention_heads=qn)
    text = OPTConfig(hidden_size=th, ffn_dim=tf, num_hidden_layers=tl, num_attention_heads=tn,
                     word_embed_proj_dim=tproj, vocab_size=vocab, max_position_embeddings=128,
                     bos_token_id=2, pad_token_id=1, eos_token_id=tokenizer_info["newline_id"])
    return Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                       text_config=text.to_dict(), num_query_tokens=spec["queries"],
                       image_token_index=tokenizer_info["image_token_id"])


def spread_weights(model, seed, eos_id, eos_bias, embed_std=0.2):
    """Unit-scale random weights: decisive logits, non-trivial activations.

    Token embeddings are kept small (std 0.2 by default) so the residual stream is not
    dominated by the current token (which makes a tied-head model repeat
    itself), and the final layer norm's bias leans towards the "\n" (EOS)
    embedding so that some captions end early and others do not.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layernorm" in name or "layer_norm" in name:
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif "embed_tokens" in name:
                p.copy_(embed_std * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2 and "embed" not in name and "query_tokens" not in name:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in ** 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=gen))
        decoder = model.language_model.model.decoder
        eos_row = decoder.embed_tokens.weight[eos_id]
        if decoder.project_out is None:
            decoder.final_layer_norm.bias += eos_bias * eos_row / eos_row.norm()


def pixel_values(processor, images):
    return processor([Image.fromarray(img) for img in images], return_tensors="pt").pixel_values


def prompt_ids(tokenizer, prompt, config, batch):
    text_ids = tokenizer(prompt).input_ids if prompt else [config.text_config.bos_token_id]
    ids = [config.image_token_index] * config.num_query_tokens + text_ids
    return torch.tensor([ids] * batch, dtype=torch.long)


def greedy(model, pixels, ids, max_new, min_new):
    out = model.generate(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids),
                         max_new_tokens=max_new, min_new_tokens=min_new, do_sample=False, num_beams=1,
                         output_scores=True, return_dict_in_generate=True)
    new = out.sequences[:, ids.shape[1]:]
    margins = []
    for step_scores in out.scores:  # processed logits per step: [batch, vocab]
        finite = step_scores.clone()
        top2 = finite.topk(2, dim=-1).values
        margins.append((top2[:, 0] - top2[:, 1]).min().item())
    return new, min(margins)


def trim_after_eos(ids, eos_id):
    out = []
    for t in ids:
        out.append(int(t))
        if int(t) == eos_id:
            break
    return out


def reference_outputs(model, processor, tokenizer, config, images):
    eos = config.text_config.eos_token_id
    pixels = pixel_values(processor, images)
    with torch.no_grad():
        vision = model.vision_model(pixels[:1], return_dict=True).last_hidden_state
        query = model.qformer(query_embeds=model.query_tokens, encoder_hidden_states=vision,
                              return_dict=True).last_hidden_state
        lang = model.language_projection(query)
        ids = prompt_ids(tokenizer, PROMPTS[1], config, 1)
        logits = model(pixel_values=pixels[:1], input_ids=ids).logits
    tensors = {"pixel_values": pixels.contiguous(), "image_embeds": vision[0].contiguous(),
               "query_output": query[0].contiguous(), "language_inputs": lang[0].contiguous(),
               "logits": logits[0].contiguous()}
    cases, worst = [], float("inf")
    for image_i, prompt_i, max_new, min_new in GREEDY_CASES:
        ids = prompt_ids(tokenizer, PROMPTS[prompt_i], config, 1)
        new, margin = greedy(model, pixels[image_i:image_i + 1], ids, max_new, min_new)
        worst = min(worst, margin)
        token_ids = trim_after_eos(new[0].tolist(), eos)
        cases.append(dict(images=[image_i], prompt=PROMPTS[prompt_i], max_new_tokens=max_new,
                          min_new_tokens=min_new, token_ids=[token_ids],
                          text=[tokenizer.decode(token_ids, skip_special_tokens=True).strip()],
                          min_margin=margin))
    for prompt_i in (0, 1):  # a batch of three images
        batch = [0, 1, 2]
        ids = prompt_ids(tokenizer, PROMPTS[prompt_i], config, len(batch))
        new, margin = greedy(model, pixels[batch], ids, 10, 0)
        worst = min(worst, margin)
        token_ids = [trim_after_eos(row.tolist(), eos) for row in new]
        cases.append(dict(images=batch, prompt=PROMPTS[prompt_i], max_new_tokens=10, min_new_tokens=0,
                          token_ids=token_ids,
                          text=[tokenizer.decode(t, skip_special_tokens=True).strip() for t in token_ids],
                          min_margin=margin))
    return tensors, cases, worst


def save_checkpoint(model, config, spec, name, out_dir, tokenizer_dir):
    shutil.rmtree(out_dir, ignore_errors=True)
    if spec["shard"]:
        model.save_pretrained(out_dir, max_shard_size=spec["shard"])
    else:
        model.save_pretrained(out_dir)
    for f in os.listdir(tokenizer_dir):
        shutil.copy(os.path.join(tokenizer_dir, f), out_dir)
    size = spec["image_size"]
    BlipImageProcessorPil(size={"height": size, "width": size}).save_pretrained(out_dir)
    cfg_path = os.path.join(out_dir, "config.json")
    cfg = json.load(open(cfg_path))
    if spec["convention"] == "legacy":
        cfg.pop("image_token_index", None)
        cfg.pop("image_token_id", None)
    cfg["_name_or_path"] = "blip2-test/" + name
    json.dump(cfg, open(cfg_path, "w"), indent=2)
    if spec["lm_head_copy"]:  # the original Salesforce shards store the tied head too
        from safetensors.torch import load_file
        path = os.path.join(out_dir, "model.safetensors")
        tensors = load_file(path)
        emb = tensors["language_model.model.decoder.embed_tokens.weight"]
        tensors["language_model.lm_head.weight"] = emb.clone()
        save_file(tensors, path, metadata={"format": "pt"})


def make_model(name, spec, fixtures, images, tokenizer_info):
    tokenizer_dir = os.path.join(fixtures, "tokenizer", spec["tokenizer"])
    oracle_tokenizer = AutoTokenizer.from_pretrained(os.path.join(fixtures, "tokenizer", "fast"))
    config = build_config(spec, tokenizer_info)
    processor = BlipImageProcessorPil(size={"height": spec["image_size"], "width": spec["image_size"]})
    # first_attempt skips seeds already known to fail the checks below
    for attempt in range(spec["first_attempt"], spec["first_attempt"] + 40):
        torch.manual_seed(attempt)
        model = Blip2ForConditionalGeneration(config).eval()
        model.config._attn_implementation = "eager"
        model.set_attn_implementation("eager")
        eos = config.text_config.eos_token_id
        spread_weights(model, seed=1000 * attempt + len(name), eos_id=eos, eos_bias=spec["eos_bias"],
                       embed_std=spec.get("embed_std", 0.2))
        tensors, cases, worst = reference_outputs(model, processor, oracle_tokenizer, config, images)
        rows = [t for c in cases for t in c["token_ids"]]
        ended = sum(1 for t in rows if t and t[-1] == eos)
        eos_mix_ok = spec["eos_bias"] == 0 or 0.2 * len(rows) <= ended <= 0.8 * len(rows)
        if worst >= MIN_MARGIN and eos_mix_ok:
            break
    else:
        raise SystemExit(f"{name}: no seed gave decisive logits (worst margin {worst}): "
                         + ", ".join(f"{c['min_margin']:.4f}" for c in cases))
    save_checkpoint(model, config, spec, name, os.path.join(fixtures, "models", name), tokenizer_dir)
    ref = os.path.join(fixtures, "reference", name)
    os.makedirs(ref, exist_ok=True)
    save_file(tensors, os.path.join(ref, "activations.safetensors"))
    image_names = list(IMAGES)
    for case in cases:
        case["images"] = [image_names[i] for i in case["images"]]
    meta = dict(prompt_for_logits=PROMPTS[1], activations_image=image_names[0], seed_attempt=attempt,
                min_margin=worst, cases=cases)
    json.dump(meta, open(os.path.join(ref, "greedy.json"), "w"), indent=1, ensure_ascii=False)
    print(f"{name}: seed attempt {attempt}, min margin {worst:.3f}, {ended} captions ended with EOS")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--stamp")
    ap.add_argument("--only", nargs="*", help="model names (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    tokenizer_info = json.load(open(os.path.join(args.fixtures, "tokenizer", "info.json")))

    image_dir = os.path.join(args.fixtures, "images")
    os.makedirs(image_dir, exist_ok=True)
    rng = np.random.default_rng(1234)
    images = []
    for name, (w, h) in IMAGES.items():
        pixels = make_image(name, w, h, rng)
        write_ppm(os.path.join(image_dir, name), pixels)
        images.append(pixels)

    for name, spec in SPECS.items():
        if not args.only or name in args.only:
            make_model(name, spec, args.fixtures, images, tokenizer_info)
    if args.stamp:
        open(args.stamp, "w").close()


if __name__ == "__main__":
    main()
