#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The transformers side of the GPU checks (tools/device_check.sh runs it).

Subcommands:
  config DIR           write the full-size blip2-opt-2.7b-coco architecture
                       (364 px EVA ViT-g, Q-Former, OPT-2.7B, new <image>
                       convention) as DIR/config.json; no network, no weights
  checkpoint DIR       the same architecture as a checkpoint folder with random
                       weights (std 0.02, written tensor by tensor; float16 by
                       default) and the tokenizer files of --tokenizer, for
                       blip2-bench, which loads checkpoints like the product
  ceilings --out J     measure the card: device-to-device copy bandwidth and
                       the fp16 and bf16 8192^3 matrix-product rates
  bench --config DIR   time transformers' generate on that architecture with
                       random weights (fp16/bf16, Q-Former kept in float32 as
                       from_pretrained does, default attention = sdpa), forced
                       token count (min_new_tokens = max_new_tokens), per batch
                       and beam count; peak memory
  parity-ref           transformers' reference: the checkpoint on the device
                       in the given dtype, the processor's pixels, the greedy
                       tokens and the raw logits of every step
  parity-compare       compare the greedy ids of blip2-caption --json (the
                       product's path) on the same image with that reference
  report               the results table (markdown + json) from the above

Prompt of the random-weight runs: <image> x 32 + BOS + 3 fixed ids (the
length of "a photo of" in the OPT vocabulary).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

PROMPT_IDS = [2, 102, 1345, 9]
PROMPT_LENGTH = 32 + len(PROMPT_IDS)  # <image> x 32 + BOS + "a photo of"


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def cuda_time(fn, warmup, iters):
    """Median wall time of fn() in ms, the device synchronised around each call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(times)


# ------------------------------------------------------------------ config

def full_config():
    from transformers import Blip2Config, Blip2QFormerConfig, Blip2VisionConfig, OPTConfig
    vision = Blip2VisionConfig(hidden_size=1408, intermediate_size=6144, num_hidden_layers=39,
                               num_attention_heads=16, image_size=364, patch_size=14,
                               layer_norm_eps=1e-6, qkv_bias=True)
    qformer = Blip2QFormerConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                 num_attention_heads=12, cross_attention_frequency=2,
                                 encoder_hidden_size=1408)
    text = OPTConfig(hidden_size=2560, ffn_dim=10240, num_hidden_layers=32, num_attention_heads=32,
                     vocab_size=50304, max_position_embeddings=2048, word_embed_proj_dim=2560,
                     activation_function="relu", do_layer_norm_before=True, bos_token_id=2,
                     pad_token_id=1, eos_token_id=50118)
    return Blip2Config(vision_config=vision.to_dict(), qformer_config=qformer.to_dict(),
                       text_config=text.to_dict(), num_query_tokens=32, image_token_index=50265)


def cmd_config(args):
    os.makedirs(args.dir, exist_ok=True)
    full_config().save_pretrained(args.dir)
    print(f"wrote {args.dir}/config.json")


def cmd_checkpoint(args):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import full_size
    full_size.build_checkpoint(args.dir, "full", tokenizer_dir=args.tokenizer,
                               dtype={"float16": "F16", "float32": "F32"}[args.dtype])
    print(f"wrote the random checkpoint {args.dir}")


# ------------------------------------------------------------------ ceilings

def cmd_ceilings(args):
    n = 1 << 30  # 1 GiB copied: far beyond the 60 MB L2
    src = torch.randint(0, 255, (n,), dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    copy_ms = cuda_time(lambda: dst.copy_(src), 3, 10)
    result = {"copy_bytes": 2 * n, "copy_ms": copy_ms, "bandwidth_bytes_per_s": 2 * n / (copy_ms / 1e3)}
    m = 8192
    for name, dtype in (("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        a = torch.randn(m, m, device="cuda", dtype=dtype)
        b = torch.randn(m, m, device="cuda", dtype=dtype)
        ms = cuda_time(lambda: a @ b, 3, 10)
        result[f"matmul_{name}_flop_per_s"] = 2 * m ** 3 / (ms / 1e3)
    result["device"] = torch.cuda.get_device_name()
    json.dump(result, open(args.out, "w"), indent=1)
    print(f"ceilings: copy {result['bandwidth_bytes_per_s'] / 1e12:.2f} TB/s, fp16 matmul "
          f"{result['matmul_float16_flop_per_s'] / 1e12:.0f} TFLOP/s on {result['device']}")


# ------------------------------------------------------------------ bench

def random_model(config_dir, dtype, device):
    """The architecture with random weights, built on `device` in `dtype`, the
    Q-Former and query tokens in float32 (what from_pretrained(dtype=...) keeps)."""
    from transformers import Blip2Config, Blip2ForConditionalGeneration
    config = Blip2Config.from_pretrained(config_dir)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = Blip2ForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    model.qformer.float()
    model.query_tokens.data = model.query_tokens.data.float()
    return model.eval(), config


def cmd_bench(args):
    dtype = getattr(torch, args.dtype)
    model, config = random_model(args.config, dtype, args.device)
    cuda = args.device.startswith("cuda")
    attn = {"model": model.config._attn_implementation,
            "language_model": model.language_model.config._attn_implementation}
    size = config.vision_config.image_size
    prompt = [i % config.text_config.vocab_size for i in PROMPT_IDS]  # as blip2-bench folds them
    ids_row = [config.image_token_index] * config.num_query_tokens + prompt
    runs = []
    for beams in args.beams:
        for batch in (args.beam_batches or args.batches) if beams > 1 else args.batches:
            pixels = torch.randn(batch, 3, size, size, device=args.device, dtype=dtype)
            ids = torch.tensor([ids_row] * batch, device=args.device)
            mask = torch.ones_like(ids)

            def generate():
                return model.generate(pixel_values=pixels, input_ids=ids, attention_mask=mask,
                                      max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                                      num_beams=beams, do_sample=False)

            with torch.inference_mode():
                new = generate().shape[1] - ids.shape[1]
                if new != args.new_tokens:
                    raise SystemExit(f"generate made {new} tokens, not {args.new_tokens}")
                if cuda:
                    torch.cuda.reset_peak_memory_stats()
                ms = cuda_time(generate, args.warmup, args.iters)
            run = {"batch": batch, "beams": beams, "new_tokens": args.new_tokens, "generate_ms": ms,
                   "captions_per_s": 1000.0 * batch / ms,
                   "peak_memory_bytes": torch.cuda.max_memory_allocated() if cuda else 0}
            runs.append(run)
            print(f"transformers generate batch {batch:3d} beams {beams}: {ms:8.2f} ms, "
                  f"{run['captions_per_s']:7.1f} captions/s, peak "
                  f"{run['peak_memory_bytes'] / 2 ** 30:.2f} GiB", flush=True)
    out = {"dtype": args.dtype, "attention": attn, "transformers": __import__("transformers").__version__,
           "torch": torch.__version__, "runs": runs,
           "device": torch.cuda.get_device_name() if cuda else "cpu"}
    json.dump(out, open(args.out, "w"), indent=1)


# ------------------------------------------------------------------ parity

def cmd_parity_ref(args):
    from PIL import Image
    from transformers import AutoTokenizer, Blip2ForConditionalGeneration
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
    os.makedirs(args.out, exist_ok=True)
    dtype = getattr(torch, args.dtype)
    model = Blip2ForConditionalGeneration.from_pretrained(args.model, dtype=dtype).to(args.device).eval()
    processor = BlipImageProcessorPil.from_pretrained(args.model)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    pixels = processor([Image.open(args.image).convert("RGB")], return_tensors="pt").pixel_values
    text_ids = tokenizer(args.prompt).input_ids if args.prompt else [model.config.text_config.bos_token_id]
    image_ids = ([model.config.image_token_index] * model.config.num_query_tokens
                 if model.config.image_token_index is not None else [])
    ids = torch.tensor([image_ids + text_ids], device=args.device)
    with torch.inference_mode():
        out = model.generate(pixel_values=pixels.to(args.device, dtype), input_ids=ids,
                             attention_mask=torch.ones_like(ids), max_new_tokens=args.steps,
                             min_new_tokens=args.steps, do_sample=False, num_beams=1,
                             output_logits=True, return_dict_in_generate=True)
    logits = torch.cat(out.logits).float().cpu().numpy()  # [steps, V]
    pixels.numpy().astype(np.float32).tofile(os.path.join(args.out, "pixels.f32"))
    logits.tofile(os.path.join(args.out, "ref_logits.f32"))
    ref = {"model": args.model, "image": os.path.abspath(args.image), "prompt": args.prompt,
           "input_ids": ids[0].tolist(), "tokens": out.sequences[0, ids.shape[1]:].tolist(),
           "pixel_shape": list(pixels.shape), "logits_shape": list(logits.shape),
           "attention": model.config._attn_implementation, "dtype": args.dtype, "device": args.device}
    json.dump(ref, open(os.path.join(args.out, "parity_ref.json"), "w"), indent=1)
    print(f"parity reference: {len(ref['tokens'])} tokens, attention {ref['attention']}")


def cmd_parity_compare(args):
    ref = json.load(open(os.path.join(args.dir, "parity_ref.json")))
    ours = json.loads(open(args.ours).read().splitlines()[0])  # blip2-caption --json, one image
    equal = ours["token_ids"] == ref["tokens"]
    agree = next((i for i, (a, b) in enumerate(zip(ours["token_ids"], ref["tokens"])) if a != b),
                 min(len(ours["token_ids"]), len(ref["tokens"])))
    result = {"tokens_equal": equal, "ours": ours["token_ids"], "transformers": ref["tokens"],
              "first_difference": None if equal else agree, "dtype": ref["dtype"], "device": ref["device"],
              "passed": equal}
    json.dump(result, open(os.path.join(args.dir, "parity_result.json"), "w"), indent=1)
    print(f"parity {args.dir}: greedy ids of blip2-caption {'equal' if equal else 'DIFFER'} to transformers' "
          f"({ref['device']} {ref['dtype']}){'' if equal else f', first difference at token {agree}'}")
    return 0 if equal or args.informative else 1


# ------------------------------------------------------------------ report

def model_costs(config):
    """Parameters, FLOPs and bytes of the stages (the floor model of docs/gpu.md)."""
    v, q, t = config["vision_config"], config["qformer_config"], config["text_config"]
    d, f, nl, p = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"], v["patch_size"]
    n = (v["image_size"] // p) ** 2 + 1
    vit_layer = 2 * d + (3 * d * d + 2 * d) + (d * d + d) + 2 * d + (d * f + f) + (f * d + d)
    vit_params = 3 * p * p * d + d + d + n * d + nl * vit_layer + 2 * d
    vit_flops = nl * (n * 2 * (4 * d * d + 2 * d * f) + 4 * n * n * d) + 2 * (n - 1) * 3 * p * p * d
    qh, qf, ql, nq = q["hidden_size"], q["intermediate_size"], q["num_hidden_layers"], config["num_query_tokens"]
    h, ff, tl, vocab = t["hidden_size"], t["ffn_dim"], t["num_hidden_layers"], t["vocab_size"]
    cross_layers = math.ceil(ql / q.get("cross_attention_frequency", 2))
    qf_params = (ql * (4 * (qh * qh + qh) + 2 * qh + (qh * qf + qf) + (qf * qh + qh) + 2 * qh)
                 + cross_layers * (2 * (qh * qh + qh) + 2 * (d * qh + qh) + 2 * qh) + nq * qh + 2 * qh)
    proj_params = qh * h + h
    qf_flops = (ql * nq * 2 * (4 * qh * qh + 2 * qh * qf)
                + cross_layers * (nq * 2 * 2 * qh * qh + n * 2 * 2 * d * qh + 4 * nq * n * qh)
                + 2 * nq * proj_params)
    opt_layers = tl * (4 * (h * h + h) + 2 * h + (h * ff + ff) + (ff * h + h) + 2 * h)
    step_params = opt_layers + vocab * h  # every layer + the tied LM head, read every step
    return {"vit_params": vit_params, "vit_flops": vit_flops, "vit_tokens": n,
            "qformer_params": qf_params + proj_params, "qformer_flops": qf_flops,
            "opt_step_params": step_params, "kv_bytes_per_token": tl * 2 * h * 2}


def floor_ms(costs, ceil, batch, new_tokens, prompt_len, beams=1):
    """The card's floor for one batch: each stage max(FLOPs / matmul rate, bytes / bandwidth)."""
    bw, rate = ceil["bandwidth_bytes_per_s"], ceil["matmul_float16_flop_per_s"]
    stage = lambda flops, nbytes: max(flops / rate, nbytes / bw) * 1e3  # noqa: E731
    vit = stage(batch * costs["vit_flops"], 2 * costs["vit_params"])
    qf = stage(batch * costs["qformer_flops"], 4 * costs["qformer_params"])  # fp32 weights
    rows = batch * beams
    prefill = stage(2 * costs["opt_step_params"] * rows * prompt_len, 2 * costs["opt_step_params"])
    step = stage(2 * costs["opt_step_params"] * rows,
                 2 * costs["opt_step_params"] + rows * (prompt_len + new_tokens) * costs["kv_bytes_per_token"])
    return {"vision": vit, "qformer": qf, "prefill": prefill, "step": step,
            "caption": vit + qf + prefill + (new_tokens - 1) * step}


def cmd_report(args):
    ours = json.load(open(args.ours))
    hf = json.load(open(args.hf)) if args.hf and os.path.exists(args.hf) else {"runs": []}
    ceil = json.load(open(args.ceilings)) if args.ceilings and os.path.exists(args.ceilings) else None
    config = json.load(open(os.path.join(args.config, "config.json")))
    costs = model_costs(config)
    hf_by = {(r["batch"], r["beams"]): r for r in hf["runs"]}
    lines = ["# blip2caption GPU results", "",
             f"device {ours['device']} ({ceil['device'] if ceil else 'ceilings not measured'}), dtype {ours['dtype']}, "
             f"decode step {ours['decode_step']}, frames {ours['frame']}, load {ours['load_ms']:.0f} ms, "
             f"first caption after {ours['first_caption_ms']:.0f} ms, "
             f"transformers {hf.get('transformers', '-')} attention {hf.get('attention', '-')}", ""]
    if ceil:
        lines += [f"measured ceilings: copy {ceil['bandwidth_bytes_per_s'] / 1e12:.2f} TB/s, fp16 matmul "
                  f"{ceil['matmul_float16_flop_per_s'] / 1e12:.0f} TFLOP/s, bf16 "
                  f"{ceil['matmul_bfloat16_flop_per_s'] / 1e12:.0f} TFLOP/s", ""]
    lines += ["| batch | beams | pre ms | vision ms | Q-Former ms | prefill ms | decode ms/token | caption ms "
              "| captions/s | peak host RSS GiB | decoder | floor ms | x floor | HF generate ms | HF peak GiB | speed-up |",
              "|---" * 16 + "|"]
    rows = []
    for r in ours["runs"]:
        s = r["stages_ms"]
        fl = floor_ms(costs, ceil, r["batch"], r["new_tokens"], PROMPT_LENGTH, r["beams"]) if ceil else None
        h = hf_by.get((r["batch"], r["beams"]))
        row = dict(r, floor=fl, hf=h)
        rows.append(row)
        lines.append("| {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | {:.3f} | {:.2f} | {:.1f} | {:.2f} | {} | {} | {} | {} | {} | {} |".format(
            r["batch"], r["beams"], s["preprocess"], s["vision"], s["qformer"], s["prefill"],
            r["decode_per_token_ms"], r["caption_ms"], r["captions_per_s"], r["peak_rss_bytes"] / 2 ** 30,
            r["decoder"],
            f"{fl['caption']:.2f}" if fl else "-", f"{r['caption_ms'] / fl['caption']:.2f}" if fl else "-",
            f"{h['generate_ms']:.2f}" if h else "-", f"{h['peak_memory_bytes'] / 2 ** 30:.2f}" if h else "-",
            f"{h['generate_ms'] / r['caption_ms']:.1f}x" if h else "-"))
    greedy1 = next((r for r in ours["runs"] if r["batch"] == 1 and r["beams"] == 1), None)
    beam5 = next((r for r in ours["runs"] if r["batch"] == 1 and r["beams"] == 5), None)
    lines += ["", "Targets:"]
    if greedy1 and ceil:
        fl = floor_ms(costs, ceil, 1, greedy1["new_tokens"], PROMPT_LENGTH)["caption"]
        lines.append(f"- greedy batch 1: {greedy1['caption_ms']:.2f} ms = {greedy1['caption_ms'] / fl:.2f}x the "
                     f"floor {fl:.2f} ms (target <= 1.5x)")
    if greedy1 and (1, 1) in hf_by:
        lines.append(f"- vs transformers generate: {hf_by[(1, 1)]['generate_ms'] / greedy1['caption_ms']:.1f}x "
                     "faster (target >= 8x; ours includes preprocessing from raw frames, theirs starts from pixels)")
    if greedy1 and beam5:
        lines.append(f"- beam 5 / greedy at batch 1: {beam5['caption_ms'] / greedy1['caption_ms']:.2f} (target <= 1.3; "
                     "the library's beam search, transformers' algorithm)")
    eager = json.load(open(args.eager)) if args.eager and os.path.exists(args.eager) else None
    if eager and greedy1:
        e = eager["runs"][0]
        lines.append(f"- static step without CUDA graphs ({e['decoder']}), batch 1: decode {e['decode_per_token_ms']:.3f} ms/token, caption "
                     f"{e['caption_ms']:.2f} ms (the default step, {greedy1['decoder']}: {greedy1['decode_per_token_ms']:.3f} ms/token, "
                     f"{greedy1['caption_ms']:.2f} ms)")
    for name in args.parity:
        path = os.path.join(name, "parity_result.json")
        if os.path.exists(path):
            p = json.load(open(path))
            lines.append(f"- parity {os.path.basename(name)} ({p['device']} {p['dtype']}): "
                         f"{'PASS' if p['passed'] else 'FAIL'}: greedy ids of blip2-caption "
                         f"{'equal' if p['tokens_equal'] else 'differ from'} transformers'"
                         + ("" if p["tokens_equal"] else f" from token {p['first_difference']}"))
        else:
            lines.append(f"- parity {os.path.basename(name)}: no result")
    text = "\n".join(lines) + "\n"
    open(args.out + ".md", "w").write(text)
    json.dump({"ours": ours, "ours_eager": eager, "transformers": hf, "ceilings": ceil, "costs": costs,
               "rows": rows},
              open(args.out + ".json", "w"), indent=1)
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("config")
    c.add_argument("dir")
    c = sub.add_parser("checkpoint")
    c.add_argument("dir")
    c.add_argument("--tokenizer", required=True, help="folder with the tokenizer files to copy")
    c.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    c = sub.add_parser("ceilings")
    c.add_argument("--out", required=True)
    c = sub.add_parser("bench")
    c.add_argument("--config", required=True)
    c.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    c.add_argument("--device", default="cuda")
    c.add_argument("--batches", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16, 32])
    c.add_argument("--beams", type=lambda s: [int(x) for x in s.split(",")], default=[1])
    c.add_argument("--beam-batches", type=lambda s: [int(x) for x in s.split(",")], default=None,
                   help="batches for beams > 1 (default: --batches)")
    c.add_argument("--new-tokens", type=int, default=12)
    c.add_argument("--warmup", type=int, default=2)
    c.add_argument("--iters", type=int, default=5)
    c.add_argument("--out", required=True)
    c = sub.add_parser("parity-ref")
    c.add_argument("--model", required=True)
    c.add_argument("--image", required=True)
    c.add_argument("--prompt", default="a photo of")
    c.add_argument("--steps", type=int, default=10)
    c.add_argument("--dtype", default="float16", choices=["float16", "bfloat16", "float32"])
    c.add_argument("--device", default="cuda")
    c.add_argument("--out", required=True)
    c = sub.add_parser("parity-compare")
    c.add_argument("--dir", required=True)
    c.add_argument("--ours", required=True, help="blip2-caption --json output for the reference image")
    c.add_argument("--informative", action="store_true", help="a difference is reported, not a failure")
    c = sub.add_parser("report")
    c.add_argument("--ours", required=True)
    c.add_argument("--hf")
    c.add_argument("--ceilings")
    c.add_argument("--config", required=True)
    c.add_argument("--parity", nargs="*", default=[])
    c.add_argument("--eager", help="blip2-bench --decode-step static json (batch 1)")
    c.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.manual_seed(0)
    return {"config": cmd_config, "checkpoint": cmd_checkpoint, "ceilings": cmd_ceilings, "bench": cmd_bench, "parity-ref": cmd_parity_ref,
            "parity-compare": cmd_parity_compare, "report": cmd_report}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
