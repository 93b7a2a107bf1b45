"""Reference ids and texts of transformers' tokenizer for the C++ tokenizer tests.

For every tokenizer folder (the variants made by make_tokenizer.py, two
"quirks" variants derived from them here, and, when BLIP2_OPT_TOKENIZER_DIR
names a folder, the real OPT vocabulary plus a copy of it with "<image>" added
as BLIP-2 now does) this writes DIR/tokenizer-reference/<variant>.json with:
  cases:   per line of tests/data/tokenizer_strings.txt the ids with and without
           special tokens and the decoded text with and without skipping them;
  decodes: texts for id sequences (special ids, bytes that are invalid UTF-8 on
           their own, random ids, every single id of small vocabularies);
  info:    bos/eos/pad ids and len(tokenizer).
index.json lists the variants and their folders. Strings are stored with JSON
escapes (ensure_ascii) so that any text survives.
"""
import argparse
import json
import os
import random
import re
import shutil

from transformers import AddedToken, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
STRINGS = os.path.join(HERE, "..", "..", "tests", "data", "tokenizer_strings.txt")

# Byte sequences that are invalid (or only partly valid) UTF-8, decoded through
# the single-byte tokens so that the U+FFFD replacement rules are exercised.
ODD_BYTES = [
    [0xE6], [0xE6, 0x97], [0xE6, 0x97, 0xA5], [0xE6, 0x41], [0xF0, 0x9F, 0x98],
    [0xF0, 0x9F, 0x98, 0x80], [0xF0, 0x9F, 0x98, 0x41, 0x42], [0x80], [0x80, 0x80, 0xBF],
    [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0xC2, 0xA9], [0xED, 0xA0, 0x80], [0xED, 0x9F, 0xBF],
    [0xE0, 0x80, 0x80], [0xE0, 0xA0], [0xF4, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
    [0xF5, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xFE, 0xFF], [0x41, 0xE2, 0x82, 0x42, 0xE2],
    [0xF0, 0x90], [0xF0, 0x80, 0x80, 0x80], [0xE2, 0x82, 0xAC, 0xE2, 0x82], [0x00, 0x0A, 0x09],
]


def unescape(line):
    r"""Interprets \n \t \r \\ \xHH \uXXXX \UXXXXXXXX in one line of the strings file."""
    simple = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    widths = {"x": 2, "u": 4, "U": 8}
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c != "\\" or i + 1 == len(line):
            out.append(c)
            i += 1
            continue
        k = line[i + 1]
        if k in simple:
            out.append(simple[k])
            i += 2
        elif k in widths:
            n = widths[k]
            out.append(chr(int(line[i + 2:i + 2 + n], 16)))
            i += 2 + n
        else:
            raise ValueError(f"unknown escape \\{k} in {line!r}")
    return "".join(out)


def read_strings():
    with open(STRINGS, encoding="utf-8") as f:
        return [unescape(line.rstrip("\n")) for line in f]


def bytes_to_unicode():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    mapping, shifted = {}, 256
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(shifted)
            shifted += 1
    return mapping


def decode_sequences(tok, texts):
    size = len(tok)
    byte_char = bytes_to_unicode()
    seqs = [[], [0], [1], [2], [3], [0, 1, 2, 3], [2, 2, 1, 1, 0, 3]]
    for raw in ODD_BYTES:
        ids = [tok.convert_tokens_to_ids(byte_char[b]) for b in raw]
        if all(i is not None and i != tok.unk_token_id for i in ids):
            seqs.append(ids)
            seqs.append([2] + ids + [2])
    for text in ["😀 ok", "日本語", "👩‍👩‍👧‍👦"]:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        for cut in range(len(ids) + 1):  # every prefix and suffix: split characters
            seqs.append(ids[:cut])
            seqs.append(ids[cut:])
    rng = random.Random(1234)
    for length in [1, 2, 5, 20, 60]:
        for _ in range(4):
            seqs.append([rng.randrange(size) for _ in range(length)])
    for text in texts[:20]:
        ids = tok(text)["input_ids"]
        seqs.append(list(reversed(ids)))
    # ids past the tokenizer (a model's padded vocabulary rows, e.g. OPT's
    # 50265..50271, can be generated): transformers drops them when decoding
    seqs.append([2, size, 102 % size, size + 7, 2])
    seqs.append([size + 1])
    if size <= 2000:
        seqs.extend([i] for i in range(size))
    else:
        seqs.extend([i] for i in list(range(400)) + list(range(size - 200, size)))
    return [{"ids": s, "text": tok.decode(s, skip_special_tokens=False),
             "text_skip": tok.decode(s, skip_special_tokens=True)} for s in seqs]


def reference(folder, texts):
    tok = AutoTokenizer.from_pretrained(folder)
    cases = []
    for text in texts:
        ids = tok(text)["input_ids"]
        cases.append({
            "text": text,
            "ids": ids,
            "ids_no_special": tok(text, add_special_tokens=False)["input_ids"],
            "decoded": tok.decode(ids, skip_special_tokens=False),
            "decoded_skip": tok.decode(ids, skip_special_tokens=True),
        })
    info = {"bos_id": tok.bos_token_id, "eos_id": tok.eos_token_id, "pad_id": tok.pad_token_id,
            "size": len(tok)}
    return {"folder": os.path.abspath(folder), "info": info, "cases": cases,
            "decodes": decode_sequences(tok, texts)}


def write_json(path, obj):
    with open(path, "w", encoding="ascii") as f:
        json.dump(obj, f, ensure_ascii=True, indent=1)


def edit_json(path, **changes):
    data = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    data.update(changes)
    write_json(path, data)


def make_legacy_quirks(src, dst):
    """Odd added tokens (one already in the vocabulary, one with a space),
    EOS appended instead of BOS, a model-specific image_token and clean-up
    asked for (transformers ignores it for BPE)."""
    shutil.copytree(src, dst)
    with open(os.path.join(src, "vocab.json"), encoding="utf-8") as f:
        n = len(json.load(f))
    write_json(os.path.join(dst, "added_tokens.json"),
               {"<image>": n, "\u00e9": n + 1, "a b": n + 2, "<|x|>": n + 3})
    edit_json(os.path.join(dst, "tokenizer_config.json"), add_bos_token=False, add_eos_token=True,
              clean_up_tokenization_spaces=True, image_token="<image>")


def make_fast_quirks(src, dst):
    """lstrip/rstrip added tokens, a prefix space, and clean-up forced on."""
    tok = AutoTokenizer.from_pretrained(src)
    tok.add_tokens([AddedToken("<L>", lstrip=True, normalized=False)])
    tok.add_tokens([AddedToken("<R>", rstrip=True, normalized=False, special=True)], special_tokens=True)
    tok.save_pretrained(dst)
    edit_json(os.path.join(dst, "tokenizer_config.json"), add_prefix_space=True,
              clean_up_tokenization_spaces=True,
              clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output=True)


def make_opt_image(src, dst):
    """The real OPT vocabulary with "<image>" added as a special token (id 50265)."""
    tok = AutoTokenizer.from_pretrained(src)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    tok.save_pretrained(dst)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--stamp")
    args = ap.parse_args()

    out = os.path.join(args.fixtures, "tokenizer-reference")
    shutil.rmtree(out, ignore_errors=True)
    folders = os.path.join(out, "folders")
    os.makedirs(folders)
    base = os.path.join(args.fixtures, "tokenizer")
    variants = {name: os.path.join(base, name) for name in ["legacy", "legacy-image", "fast"]}
    variants["legacy-quirks"] = os.path.join(folders, "legacy-quirks")
    make_legacy_quirks(variants["legacy"], variants["legacy-quirks"])
    variants["fast-quirks"] = os.path.join(folders, "fast-quirks")
    make_fast_quirks(variants["fast"], variants["fast-quirks"])
    opt = os.environ.get("BLIP2_OPT_TOKENIZER_DIR", "")
    if opt and os.path.isdir(opt):
        variants["opt"] = opt
        variants["opt-image"] = os.path.join(folders, "opt-image")
        make_opt_image(opt, variants["opt-image"])

    texts = read_strings()
    for name, folder in variants.items():
        write_json(os.path.join(out, name + ".json"), reference(folder, texts))
    write_json(os.path.join(out, "index.json"),
               {"variants": {name: os.path.abspath(f) for name, f in variants.items()}})
    if args.stamp:
        open(args.stamp, "w").close()


if __name__ == "__main__":
    main()
