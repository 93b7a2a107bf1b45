"""transformers in bfloat16 on the tiny checkpoints: what our bfloat16 model is
compared with.

Loads each checkpoint that make_models.py saved with
Blip2ForConditionalGeneration.from_pretrained(dtype=torch.bfloat16, eager
attention): transformers 5 then keeps no module in float32 (its
_keep_in_fp32_modules applies to float16 only), so the Q-Former and the query
tokens are bfloat16 too. Runs the greedy cases of reference/<model>/greedy.json
and writes reference/<model>/bfloat16.json:
  cases      the same images, prompts and lengths, with transformers' bfloat16
             token ids, text and smallest top-1 margin
  logits     of the float32 reference's prompt (image 0, "a photo of"), in
             bfloat16.safetensors: "logits" (bfloat16 model) and
             "logits_qformer_float32" (the same with the Q-Former and the
             query tokens cast back to float32, the float16 policy), both as
             float32 values
"""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoTokenizer, Blip2ForConditionalGeneration
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

MODELS = ["tiny", "tiny-legacy", "tiny-proj", "tiny-coco"]


def read_ppm(path):
    return np.asarray(Image.open(path).convert("RGB"))


def prompt_ids(tokenizer, prompt, config, batch):
    text_ids = tokenizer(prompt).input_ids if prompt else [config.text_config.bos_token_id]
    ids = [config.image_token_index] * config.num_query_tokens + text_ids
    return torch.tensor([ids] * batch, dtype=torch.long)


def greedy(model, pixels, ids, case, eos):
    out = model.generate(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids),
                         max_new_tokens=case["max_new_tokens"], min_new_tokens=case["min_new_tokens"],
                         do_sample=False, num_beams=1, output_scores=True, return_dict_in_generate=True)
    rows = []
    for row in out.sequences[:, ids.shape[1]:].tolist():
        kept = []
        for t in row:
            kept.append(t)
            if t == eos:
                break
        rows.append(kept)
    margins = [(s.float().topk(2, dim=-1).values[:, 0] - s.float().topk(2, dim=-1).values[:, 1]).min().item()
               for s in out.scores]
    return rows, min(margins)


def load(fixtures, model_dir, qformer_float32=False):
    model = Blip2ForConditionalGeneration.from_pretrained(model_dir, dtype=torch.bfloat16,
                                                          attn_implementation="eager").eval()
    if getattr(model.config, "image_token_index", None) is None:
        # a legacy checkpoint: make_models.py's oracle ran it with the <image> ids
        # in front (what concatenating the image rows computes)
        info = json.load(open(os.path.join(fixtures, "tokenizer", "info.json")))
        model.config.image_token_index = model.config.image_token_id = info["image_token_id"]
    if qformer_float32:
        model.qformer.float()
        model.query_tokens.data = model.query_tokens.data.float()
    return model


def make_reference(fixtures, name):
    model_dir = os.path.join(fixtures, "models", name)
    ref_dir = os.path.join(fixtures, "reference", name)
    reference = json.load(open(os.path.join(ref_dir, "greedy.json")))
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(fixtures, "tokenizer", "fast"))
    processor = BlipImageProcessorPil.from_pretrained(model_dir)
    model = load(fixtures, model_dir)
    config = model.config
    eos = config.text_config.eos_token_id
    images = {}

    def pixels_of(names):
        for n in names:
            if n not in images:
                images[n] = read_ppm(os.path.join(fixtures, "images", n))
        return processor([Image.fromarray(images[n]) for n in names], return_tensors="pt").pixel_values

    cases = []
    with torch.no_grad():
        for case in reference["cases"]:
            ids = prompt_ids(tokenizer, case["prompt"], config, len(case["images"]))
            rows, margin = greedy(model, pixels_of(case["images"]), ids, case, eos)
            cases.append(dict(images=case["images"], prompt=case["prompt"],
                              max_new_tokens=case["max_new_tokens"],
                              min_new_tokens=case["min_new_tokens"], token_ids=rows,
                              text=[tokenizer.decode(r, skip_special_tokens=True).strip() for r in rows],
                              min_margin=margin))
        ids = prompt_ids(tokenizer, reference["prompt_for_logits"], config, 1)
        pixels = pixels_of([reference["activations_image"]])
        logits = model(pixel_values=pixels, input_ids=ids).logits[0].float()
        mixed = load(fixtures, model_dir, qformer_float32=True)
        logits_mixed = mixed(pixel_values=pixels, input_ids=ids).logits[0].float()
    save_file({"logits": logits.contiguous(), "logits_qformer_float32": logits_mixed.contiguous()},
              os.path.join(ref_dir, "bfloat16.safetensors"))
    json.dump(dict(cases=cases), open(os.path.join(ref_dir, "bfloat16.json"), "w"), indent=1,
              ensure_ascii=False)
    print(f"{name}: bfloat16 smallest margin {min(c['min_margin'] for c in cases):.4f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--stamp")
    args = ap.parse_args()
    torch.set_num_threads(2)
    for name in MODELS:
        make_reference(args.fixtures, name)
    if args.stamp:
        open(args.stamp, "w").close()


if __name__ == "__main__":
    main()
