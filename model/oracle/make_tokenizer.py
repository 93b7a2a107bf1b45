"""Train a small byte-level BPE tokenizer laid out like OPT's (the BLIP-2 one).

Writes three variants of the same vocabulary under --out:
  legacy/        vocab.json + merges.txt + tokenizer_config.json + special_tokens_map.json
                 (the original Salesforce layout, no <image> token)
  legacy-image/  the same plus added_tokens.json declaring <image> (new convention)
  fast/          what transformers' save_pretrained writes (tokenizer.json), with <image>
Ids 0..3 are <s>, <pad>, </s>, <unk> as in OPT; "\n" is a single byte-level token.
"""
import argparse
import json
import os
import shutil

from tokenizers import ByteLevelBPETokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
OPT_SETTINGS = {
    "tokenizer_class": "GPT2Tokenizer",
    "add_bos_token": True,
    "add_prefix_space": False,
    "errors": "replace",
    "bos_token": "</s>",
    "eos_token": "</s>",
    "unk_token": "</s>",
    "pad_token": "<pad>",
}
SPECIAL_MAP = {"bos_token": "</s>", "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>"}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)


def train_legacy(out_dir, vocab_size):
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train([os.path.join(HERE, "corpus.txt")], vocab_size=vocab_size, min_frequency=2,
              special_tokens=SPECIALS, show_progress=False)
    os.makedirs(out_dir, exist_ok=True)
    bpe.save_model(out_dir)
    write_json(os.path.join(out_dir, "tokenizer_config.json"), OPT_SETTINGS)
    write_json(os.path.join(out_dir, "special_tokens_map.json"), SPECIAL_MAP)
    with open(os.path.join(out_dir, "vocab.json"), encoding="utf-8") as f:
        return len(json.load(f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--stamp")
    ap.add_argument("--vocab-size", type=int, default=600)
    args = ap.parse_args()

    shutil.rmtree(args.out, ignore_errors=True)
    legacy = os.path.join(args.out, "legacy")
    n_vocab = train_legacy(legacy, args.vocab_size)

    legacy_image = os.path.join(args.out, "legacy-image")
    shutil.copytree(legacy, legacy_image)
    write_json(os.path.join(legacy_image, "added_tokens.json"), {"<image>": n_vocab})
    write_json(os.path.join(legacy_image, "special_tokens_map.json"),
               dict(SPECIAL_MAP, additional_special_tokens=["<image>"]))

    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(legacy)
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]})
    assert tok.convert_tokens_to_ids("<image>") == n_vocab
    tok.save_pretrained(os.path.join(args.out, "fast"))

    check = AutoTokenizer.from_pretrained(legacy_image)
    assert check.convert_tokens_to_ids("<image>") == n_vocab, "added_tokens.json not honoured"
    write_json(os.path.join(args.out, "info.json"),
               {"vocab_json_size": n_vocab, "image_token_id": n_vocab,
                "newline_id": tok.convert_tokens_to_ids("\u010a")})
    if args.stamp:
        open(args.stamp, "w").close()


if __name__ == "__main__":
    main()
