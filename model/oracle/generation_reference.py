"""Reference beam search, sampling and logits processors from transformers.

Loads the tiny checkpoints that make_models.py saved under --fixtures/models
and runs transformers' generate (eager attention, float32, CPU) on them.
Writes, per model:
  reference/<model>/generation.json         cases and expected outputs:
    beam     beam search (and beam sampling): returned sequences (new ids,
             EOS included, as many as num_return_sequences per image, best
             first) and transformers' sequences_scores
    sample   sampling after torch.manual_seed(seed): sampled ids (the C++
             sampler draws the same exponential noise from the same seed on
             the CPU) and, in generation.safetensors, the processed and warped
             scores of every step
    greedy   greedy decoding with logits processors
  reference/<model>/generation.safetensors  "<case>/scores" [steps, rows, V]
                                            float32 for the sample cases
and, once, reference/processors.safetensors: random scores and ids, and what
each transformers logits processor / warper makes of them.

Every case records its smallest decision margin: the gap between consecutive
values among the k+1 best of every top-k transformers takes (candidates,
running beams, finished hypotheses, top-k warper), between the best running
and the worst finished score of the early-stop test, between the two largest
p/q of every multinomial draw (relative) and between cumulative
probabilities and 1 - top_p. A case is taken from a pool of images, prompts
and seeds: the first whose margin is at least MIN_MARGIN, so that float32
differences between libtorch and PyTorch cannot flip a decision.
"""
import argparse
import contextlib
import json
import math
import os

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from transformers import AutoTokenizer, Blip2ForConditionalGeneration
from transformers.generation import logits_process
from transformers.generation.utils import GenerationMixin
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

MIN_MARGIN = 1e-4   # log-probability units; libtorch and PyTorch sums differ by < 1e-5
TOP_P_MIN_GAP = 2e-5  # probability units: |cumulative probability - (1 - top_p)|
MAX_ATTEMPTS = 12
MODELS = ["tiny", "tiny-legacy", "tiny-proj", "tiny-coco"]
PROMPTS = ["", "a photo of", "Question: what is it? Answer:", "an image of the"]
IMAGES = ["gradient-64x48.ppm", "noise-33x77.ppm", "checker-100x100.ppm", "stripes-640x480.ppm",
          "pixel-1x1.ppm"]
SINGLE_POOL = [([i], p) for p in range(len(PROMPTS)) for i in range(len(IMAGES))]
BATCH_POOL = [([0, 1, 2], 0), ([1, 2, 3], 1), ([2, 3, 4], 2), ([0, 3, 4], 3), ([4, 0, 1], 1)]
SEEDS = list(range(12))

# name: options (transformers generate kwargs); "pool": "batch" for 3 images;
# "ids": True when the case looks at input_ids (repetition / n-gram), which the
# legacy convention keeps shorter (no image ids) than transformers does.
BEAM_CASES = {
    "beams2": dict(num_beams=2, max_new_tokens=12),
    "beams3": dict(num_beams=3, max_new_tokens=12),
    "beams5": dict(num_beams=5, max_new_tokens=15),
    "beams3-lp0": dict(num_beams=3, max_new_tokens=12, length_penalty=0.0),
    "beams3-lp2": dict(num_beams=3, max_new_tokens=12, length_penalty=2.0),
    "beams5-lp0-never": dict(num_beams=5, max_new_tokens=12, length_penalty=0.0, early_stopping="never"),
    "beams5-lp2-never": dict(num_beams=5, max_new_tokens=12, length_penalty=2.0, early_stopping="never"),
    "beams2-lp1-never": dict(num_beams=2, max_new_tokens=10, early_stopping="never"),
    "beams3-early": dict(num_beams=3, max_new_tokens=12, early_stopping=True),
    "beams5-lp2-early": dict(num_beams=5, max_new_tokens=12, length_penalty=2.0, early_stopping=True),
    "beams5-return5": dict(num_beams=5, max_new_tokens=10, num_return_sequences=5),
    "beams3-return2": dict(num_beams=3, max_new_tokens=10, num_return_sequences=2),
    "beams3-rep1.3": dict(num_beams=3, max_new_tokens=12, repetition_penalty=1.3, ids=True),
    "beams3-rep0.8": dict(num_beams=3, max_new_tokens=10, repetition_penalty=0.8, ids=True),
    "beams3-ngram2": dict(num_beams=3, max_new_tokens=14, no_repeat_ngram_size=2, ids=True),
    "beams5-ngram3-rep1.2": dict(num_beams=5, max_new_tokens=12, no_repeat_ngram_size=3,
                                 repetition_penalty=1.2, ids=True),
    "beams3-min-above-natural": dict(num_beams=3, max_new_tokens=16, min_new_tokens=9, natural=True),
    "beams5-coco": dict(num_beams=5, max_new_tokens=30, min_new_tokens=8),
    "beams3-max1": dict(num_beams=3, max_new_tokens=1),
    "beams2-max1-return2": dict(num_beams=2, max_new_tokens=1, num_return_sequences=2),
    "beams3-eos-first": dict(num_beams=3, max_new_tokens=8, eos_first=True),
    "beams4-batch3": dict(num_beams=4, max_new_tokens=10, pool="batch"),
    "beams5-batch3-lp2-rep": dict(num_beams=5, max_new_tokens=10, length_penalty=2.0,
                                  repetition_penalty=1.2, num_return_sequences=2, pool="batch", ids=True),
    "beams3-batch3-early": dict(num_beams=3, max_new_tokens=10, early_stopping=True, pool="batch"),
    "beam-sample3": dict(num_beams=3, max_new_tokens=10, do_sample=True, top_k=20, temperature=0.8,
                         seeded=True),
}
# Beams near and beyond the vocabulary (2K > V, K > V): one model only.
WIDE_BEAM_CASES = {
    "beams-2k-above-vocab": dict(num_beams=300, max_new_tokens=3, top_only=True),
    "beams-above-vocab": dict(num_beams=560, max_new_tokens=2, top_only=True),
}
SAMPLE_CASES = {
    "sample-default": dict(max_new_tokens=12),
    "sample-t0.7-k10": dict(max_new_tokens=12, temperature=0.7, top_k=10),
    "sample-p0.9": dict(max_new_tokens=12, top_k=0, top_p=0.9),
    "sample-t1.3-k30-p0.8-rep": dict(max_new_tokens=10, temperature=1.3, top_k=30, top_p=0.8,
                                     repetition_penalty=1.2, pool="batch", ids=True),
    "sample-return3": dict(max_new_tokens=10, num_return_sequences=3, top_k=40),
    "sample-min-new": dict(max_new_tokens=10, min_new_tokens=6, top_k=0, temperature=0.6),
}
GREEDY_CASES = {
    "greedy-rep1.5": dict(max_new_tokens=14, repetition_penalty=1.5, ids=True),
    "greedy-rep1.0": dict(max_new_tokens=14, repetition_penalty=1.0),
    "greedy-ngram2": dict(max_new_tokens=16, no_repeat_ngram_size=2, ids=True),
    "greedy-ngram1-batch3": dict(max_new_tokens=8, no_repeat_ngram_size=1, pool="batch", ids=True),
}
META_KEYS = {"pool", "ids", "natural", "eos_first", "seeded", "top_only"}


# ----------------------------------------------------------------------------
# decision margins


class Margins:
    """Records decision margins of the transformers calls made while active."""

    def __init__(self):
        self.values = []
        self.active = False
        self.top_only = False  # wide beams: only the best candidate of each top-k matters

    def add(self, value):
        if self.active and math.isfinite(value):
            self.values.append(value)

    def gaps_of_top(self, values, k):
        """Gaps between consecutive values among the k+1 largest real ones of each row."""
        rows = values.detach().reshape(-1, values.shape[-1]).double()
        k = 1 if self.top_only else k
        top = rows.sort(dim=-1, descending=True).values[:, : k + 1]
        for row in top:
            real = row[(row > -1e8) & torch.isfinite(row)]
            if real.numel() > 1:
                self.add((real[:-1] - real[1:]).min().item())

    @property
    def minimum(self):
        return min(self.values) if self.values else float("inf")


MARGINS = Margins()


@contextlib.contextmanager
def recording_margins(top_only=False):
    original_topk, original_multinomial = torch.topk, torch.multinomial
    original_heuristic = GenerationMixin._check_early_stop_heuristic
    original_top_k_call = logits_process.TopKLogitsWarper.__call__
    original_top_p_call = logits_process.TopPLogitsWarper.__call__

    def topk(input, k, *args, **kwargs):
        if input.is_floating_point() and k < input.shape[-1]:
            MARGINS.gaps_of_top(input, k)
        elif input.is_floating_point():
            MARGINS.gaps_of_top(input, k - 1)
        return original_topk(input, k, *args, **kwargs)

    def multinomial(probs, num_samples, *args, **kwargs):
        state = torch.get_rng_state()
        noise = torch.empty_like(probs).exponential_(1)
        torch.set_rng_state(state)
        drawn = original_multinomial(probs, num_samples, *args, **kwargs)
        ratio = (probs / noise).double()
        expected = ratio.topk(num_samples, dim=-1).indices
        if not torch.equal(expected, drawn):
            raise SystemExit("torch.multinomial no longer draws argmax(p / q), q ~ Exp(1)")
        top = ratio.topk(min(num_samples + 1, ratio.shape[-1]), dim=-1).values
        for row in top:
            real = row[row > 0]
            if real.numel() > 1:
                MARGINS.add(((real[:-1] - real[1:]) / real[:-1]).min().item())
        return drawn

    def heuristic(is_early_stop_heuristic_unsatisfied, running_beam_scores, beam_scores, is_sent_finished,
                  cur_len, max_length, decoder_prompt_len, early_stopping, length_penalty):
        is_unsatisfied = is_early_stop_heuristic_unsatisfied
        if early_stopping == "never" and length_penalty > 0.0:
            length = max_length - decoder_prompt_len
        else:
            length = cur_len - decoder_prompt_len
        best = running_beam_scores[:, 0].double() / (length ** length_penalty)
        worst = beam_scores.min(dim=1).values.double()
        for b in range(best.shape[0]):
            if bool(is_sent_finished[b].all()) and bool(is_unsatisfied[b]) and best[b] > -1e8:
                MARGINS.add(abs(best[b].item() - worst[b].item()))
        return original_heuristic(is_unsatisfied, running_beam_scores, beam_scores, is_sent_finished, cur_len,
                                  max_length, decoder_prompt_len, early_stopping, length_penalty)

    def top_k_call(self, input_ids, scores):
        k = min(self.top_k, scores.shape[-1])
        if k < scores.shape[-1]:
            top = scores.double().sort(dim=-1, descending=True).values
            MARGINS.add((top[:, k - 1] - top[:, k])[torch.isfinite(top[:, k])].min().item()
                        if torch.isfinite(top[:, k]).any() else float("inf"))
        return original_top_k_call(self, input_ids, scores)

    def top_p_call(self, input_ids, scores):
        cumulative = scores.sort(descending=False).values.softmax(dim=-1).cumsum(dim=-1).double()
        gap = (cumulative - (1 - self.top_p)).abs().min().item()
        MARGINS.add(gap * MIN_MARGIN / TOP_P_MIN_GAP)  # on the MIN_MARGIN scale
        return original_top_p_call(self, input_ids, scores)

    torch.topk, torch.multinomial = topk, multinomial
    GenerationMixin._check_early_stop_heuristic = staticmethod(heuristic)
    logits_process.TopKLogitsWarper.__call__ = top_k_call
    logits_process.TopPLogitsWarper.__call__ = top_p_call
    MARGINS.values, MARGINS.active = [], True
    MARGINS.top_only = top_only
    try:
        yield MARGINS
    finally:
        MARGINS.active = False
        torch.topk, torch.multinomial = original_topk, original_multinomial
        GenerationMixin._check_early_stop_heuristic = staticmethod(original_heuristic)
        logits_process.TopKLogitsWarper.__call__ = original_top_k_call
        logits_process.TopPLogitsWarper.__call__ = original_top_p_call


# ----------------------------------------------------------------------------
# model, inputs, generate


def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, size, maxval, pixels = data.split(b"\n", 3)
    width, height = map(int, size.split())
    return np.frombuffer(pixels, dtype=np.uint8).reshape(height, width, 3)


class Oracle:
    def __init__(self, fixtures, name):
        info = json.load(open(os.path.join(fixtures, "tokenizer", "info.json")))
        path = os.path.join(fixtures, "models", name)
        self.model = Blip2ForConditionalGeneration.from_pretrained(path, attn_implementation="eager").eval()
        # the legacy checkpoint has no <image> id in its config; transformers
        # 5.17 only has the new convention, so the oracle runs it with one
        self.legacy = self.model.config.image_token_index is None
        if self.legacy:
            self.model.config.image_token_index = info["image_token_id"]
        self.tokenizer = AutoTokenizer.from_pretrained(os.path.join(fixtures, "tokenizer", "fast"))
        self.processor = BlipImageProcessorPil.from_pretrained(path)
        images = [Image.fromarray(read_ppm(os.path.join(fixtures, "images", n))) for n in IMAGES]
        self.pixels = self.processor(images, return_tensors="pt").pixel_values
        self.eos = self.model.config.text_config.eos_token_id
        self.vocab = self.model.config.text_config.vocab_size

    def input_ids(self, prompt, batch):
        c = self.model.config
        text = self.tokenizer(prompt).input_ids if prompt else [c.text_config.bos_token_id]
        return torch.tensor([[c.image_token_index] * c.num_query_tokens + text] * batch)

    def generate(self, images, prompt, options, seed=None):
        ids = self.input_ids(prompt, len(images))
        kwargs = {k: v for k, v in options.items() if k not in META_KEYS}
        kwargs.setdefault("do_sample", False)
        kwargs.setdefault("num_beams", 1)
        if seed is not None:
            torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(pixel_values=self.pixels[images], input_ids=ids,
                                      attention_mask=torch.ones_like(ids), return_dict_in_generate=True,
                                      output_scores=True, **kwargs)
        return ids.shape[1], out

    def new_ids(self, prompt_length, out, beams):
        """New ids per returned sequence, EOS included, without the padding."""
        rows = out.sequences[:, prompt_length:]
        if beams:
            lengths = (out.beam_indices != -1).sum(dim=1).tolist()
            return [row[:n].tolist() for row, n in zip(rows, lengths)]
        result = []
        for row in rows.tolist():
            ids = []
            for t in row:
                ids.append(t)
                if t == self.eos:
                    break
            result.append(ids)
        return result


def case_record(name, images, prompt_i, options, seed, margin, sequences, oracle):
    record = dict(name=name, images=[IMAGES[i] for i in images], prompt=PROMPTS[prompt_i],
                  options={k: v for k, v in options.items() if k not in META_KEYS},
                  sequences=sequences, min_margin=margin,
                  text=[oracle.tokenizer.decode(s, skip_special_tokens=True).strip() for s in sequences])
    if seed is not None:
        record["options"]["seed"] = seed
    return record


def candidates(name, options):
    """The case's pool of (images, prompt index, seed), starting at a place
    that depends on the case name so that the cases spread over images and
    prompts."""
    pool = BATCH_POOL if options.get("pool") == "batch" else SINGLE_POOL
    seeds = SEEDS if options.get("seeded") or options.get("do_sample") else [None]
    start = sum(name.encode()) % len(pool)
    rotated = pool[start:] + pool[:start]
    pairs = [(rotated[i % len(rotated)], seeds[i % len(seeds)]) for i in range(len(rotated) * len(seeds))]
    return [(images, prompt_i, seed) for (images, prompt_i), seed in pairs]


def first_decisive(oracle, name, options, run):
    """Runs `run(images, prompt_i, seed)` over the case's pool until decisive."""
    best = None
    for attempt, (images, prompt_i, seed) in enumerate(candidates(name, options)):
        if attempt == MAX_ATTEMPTS:
            break
        with recording_margins(options.get("top_only", False)) as margins:
            result = run(images, prompt_i, seed)
        if result is None:
            continue
        if margins.minimum >= MIN_MARGIN:
            return images, prompt_i, seed, margins.minimum, result
        if best is None or margins.minimum > best[3]:
            best = (images, prompt_i, seed, margins.minimum, result)
    return None if best is None else ("not-decisive",) + best


def beam_cases(oracle, cases):
    records = []
    for name, options in cases.items():
        if oracle.legacy and options.get("ids"):
            continue

        def run(images, prompt_i, seed, options=options):
            prompt_length, out = oracle.generate(images, PROMPTS[prompt_i], options, seed)
            sequences = oracle.new_ids(prompt_length, out, beams=True)
            if options.get("eos_first") and not any(s == [oracle.eos] for s in sequences):
                return None
            if options.get("natural"):
                natural = dict(options, min_new_tokens=0)
                _, plain = oracle.generate(images, PROMPTS[prompt_i], natural, seed)
                plain_ids = oracle.new_ids(prompt_length, plain, beams=True)
                if len(plain_ids[0]) >= options["min_new_tokens"] or plain_ids[0][-1] != oracle.eos:
                    return None
            return sequences, out.sequences_scores.tolist()

        found = first_decisive(oracle, name, options, run)
        if found is None:
            print(f"  {name}: no image/prompt fits, skipped")
            continue
        if found[0] == "not-decisive":
            print(f"  {name}: best margin only {found[4]:.2e}, skipped")
            continue
        images, prompt_i, seed, margin, (sequences, scores) = found
        record = case_record(name, images, prompt_i, options, seed, margin, sequences, oracle)
        record["sequences_scores"] = scores
        records.append(record)
    return records


def sample_cases(oracle, tensors):
    records = []
    for name, options in SAMPLE_CASES.items():
        if oracle.legacy and options.get("ids"):
            continue
        options = dict(options, do_sample=True)

        def run(images, prompt_i, seed, options=options):
            prompt_length, out = oracle.generate(images, PROMPTS[prompt_i], options, seed)
            return oracle.new_ids(prompt_length, out, beams=False), out

        found = first_decisive(oracle, name, options, run)
        if found[0] == "not-decisive":
            print(f"  {name}: best margin only {found[4]:.2e}, skipped")
            continue
        images, prompt_i, seed, margin, (sequences, out) = found
        record = case_record(name, images, prompt_i, options, seed, margin, sequences, oracle)
        # every row's ids as transformers fed them (pad after EOS): the teacher-forcing prefix
        record["rows"] = out.sequences[:, out.sequences.shape[1] - len(out.scores):].tolist()
        records.append(record)
        tensors[name + "/scores"] = torch.stack(out.scores).contiguous()  # [steps, rows, V]
    return records


def greedy_cases(oracle):
    records = []
    for name, options in GREEDY_CASES.items():
        if oracle.legacy and options.get("ids"):
            continue

        def run(images, prompt_i, seed, options=options):
            prompt_length, out = oracle.generate(images, PROMPTS[prompt_i], options)
            for step_scores in out.scores:  # greedy: the top-1 / top-2 gap of each step
                MARGINS.gaps_of_top(step_scores, 1)
            return oracle.new_ids(prompt_length, out, beams=False)

        found = first_decisive(oracle, name, options, run)
        if found[0] == "not-decisive":
            print(f"  {name}: best margin only {found[4]:.2e}, skipped")
            continue
        images, prompt_i, seed, margin, sequences = found
        records.append(case_record(name, images, prompt_i, options, seed, margin, sequences, oracle))
    return records


# ----------------------------------------------------------------------------
# processors on random scores


def processor_reference(path):
    gen = torch.Generator().manual_seed(7)
    vocab, rows = 97, 4
    scores = torch.randn(rows, vocab, generator=gen) * 3
    scores[1, 10:20] = scores[1, 10]  # ties at the top-k boundary of row 1
    log_probs = torch.log_softmax(scores, dim=-1)
    ids = torch.randint(0, vocab, (rows, 15), generator=gen)
    ids[2, -4:] = ids[2, 3:7]  # a repeated 4-gram: bans for n = 2, 3, 4, 5
    ids[3, :] = ids[3, 0]
    lp = logits_process
    eos = 5
    out = {"scores": scores, "log_probs": log_probs, "ids": ids, "eos": torch.tensor([eos])}
    for name, proc, inp in [
        ("repetition_penalty_1.3", lp.RepetitionPenaltyLogitsProcessor(1.3), "scores"),
        ("repetition_penalty_0.7", lp.RepetitionPenaltyLogitsProcessor(0.7), "scores"),
        ("repetition_penalty_1.3_log_probs", lp.RepetitionPenaltyLogitsProcessor(1.3), "log_probs"),
        ("no_repeat_ngram_1", lp.NoRepeatNGramLogitsProcessor(1), "scores"),
        ("no_repeat_ngram_2", lp.NoRepeatNGramLogitsProcessor(2), "scores"),
        ("no_repeat_ngram_3", lp.NoRepeatNGramLogitsProcessor(3), "scores"),
        ("no_repeat_ngram_5", lp.NoRepeatNGramLogitsProcessor(5), "scores"),
        ("no_repeat_ngram_16", lp.NoRepeatNGramLogitsProcessor(16), "scores"),
        ("bad_words_3_5_40", lp.NoBadWordsLogitsProcessor([[3], [eos], [40]], eos), "scores"),
        ("min_new_tokens_active", lp.MinNewTokensLengthLogitsProcessor(10, 6, eos), "scores"),
        ("min_new_tokens_done", lp.MinNewTokensLengthLogitsProcessor(9, 6, eos), "scores"),
        ("temperature_0.7", lp.TemperatureLogitsWarper(0.7), "scores"),
        ("top_k_10", lp.TopKLogitsWarper(10), "scores"),
        ("top_k_1_keep_2", lp.TopKLogitsWarper(1, min_tokens_to_keep=2), "scores"),
        ("top_k_500", lp.TopKLogitsWarper(500), "scores"),
        ("top_p_0.9", lp.TopPLogitsWarper(0.9), "scores"),
        ("top_p_0.3", lp.TopPLogitsWarper(0.3), "scores"),
        ("top_p_0.05_keep_2", lp.TopPLogitsWarper(0.05, min_tokens_to_keep=2), "scores"),
    ]:
        out[name] = proc(ids, out[inp].clone())
    save_file({k: v.contiguous() for k, v in out.items()}, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--stamp")
    ap.add_argument("--only", nargs="*", help="model names (default: all)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    os.makedirs(os.path.join(args.fixtures, "reference"), exist_ok=True)
    processor_reference(os.path.join(args.fixtures, "reference", "processors.safetensors"))
    for name in MODELS:
        if args.only and name not in args.only:
            continue
        oracle = Oracle(args.fixtures, name)
        tensors = {}
        cases = dict(BEAM_CASES, **(WIDE_BEAM_CASES if name == "tiny-legacy" else {}))
        meta = dict(model=name, vocab_size=oracle.vocab, eos_token_id=oracle.eos, legacy=oracle.legacy,
                    min_margin_required=MIN_MARGIN,
                    beam=beam_cases(oracle, cases), sample=sample_cases(oracle, tensors),
                    greedy=greedy_cases(oracle))
        ref = os.path.join(args.fixtures, "reference", name)
        os.makedirs(ref, exist_ok=True)
        save_file(tensors, os.path.join(ref, "generation.safetensors"))
        with open(os.path.join(ref, "generation.json"), "w") as f:
            json.dump(meta, f, indent=1, ensure_ascii=False)
        print(f"{name}: {len(meta['beam'])} beam, {len(meta['sample'])} sample, "
              f"{len(meta['greedy'])} greedy cases")
    if args.stamp:
        open(args.stamp, "w").close()


if __name__ == "__main__":
    main()
