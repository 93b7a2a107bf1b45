#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/.

Hand-written inputs, small and valid (plus a few broken on purpose), so the
fuzzers start from every branch of the formats: safetensors files, a sharded
checkpoint's index, config.json, tokenizer.json, the vocab.json + merges.txt
layout, and PPM images. Standard library only; run it again after editing.
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def safetensors(tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)] -> the file's bytes."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(text)) + text + data


def f32(*values):
    return struct.pack("<%df" % len(values), *values)


def config(**text):
    base = {
        "model_type": "blip-2",
        "num_query_tokens": 32,
        "image_token_index": 50265,
        "vision_config": {"hidden_size": 1408, "intermediate_size": 6144, "num_hidden_layers": 39,
                          "num_attention_heads": 16, "image_size": 224, "patch_size": 14,
                          "layer_norm_eps": 1e-6, "qkv_bias": True, "hidden_act": "gelu"},
        "qformer_config": {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                           "num_attention_heads": 12, "cross_attention_frequency": 2,
                           "encoder_hidden_size": 1408, "hidden_act": "gelu"},
        "text_config": {"model_type": "opt", "vocab_size": 50272, "hidden_size": 2560, "ffn_dim": 10240,
                        "num_hidden_layers": 32, "num_attention_heads": 32,
                        "max_position_embeddings": 2048, "word_embed_proj_dim": 2560,
                        "activation_function": "relu", "bos_token_id": 2, "eos_token_id": 50118,
                        "pad_token_id": 1, "do_layer_norm_before": True, "enable_bias": True},
    }
    base["text_config"].update(text)
    return json.dumps(base, indent=2).encode()


VOCAB = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "a": 4, "\u0120": 5, "\u0120a": 6, "c": 7,
         "t": 8, "at": 9, "\u0120c": 10, "\u0120cat": 11, "\u010a": 12, "p": 13, "h": 14, "o": 15}
MERGES = ["\u0120 a", "a t", "\u0120 c", "\u0120c at"]
ADDED = [{"id": i, "content": c, "special": True, "single_word": False, "lstrip": False,
          "rstrip": False, "normalized": False} for c, i in (("<s>", 0), ("<pad>", 1), ("</s>", 2), ("<unk>", 3))]


def tokenizer_json(**extra):
    doc = {"version": "1.0", "added_tokens": ADDED,
           "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
           "post_processor": {"type": "TemplateProcessing",
                              "single": [{"SpecialToken": {"id": "</s>", "type_id": 0}},
                                         {"Sequence": {"id": "A", "type_id": 0}}],
                              "pair": [], "special_tokens": {}},
           "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "dropout": None, "unk_token": None, "vocab": VOCAB, "merges": MERGES}}
    doc.update(extra)
    return json.dumps(doc, ensure_ascii=False).encode()


SEP = b"\n#----\n"


def tokenizer_files(vocab, merges, added=b"", special=b""):
    return SEP.join([vocab, merges, added, special])


def ppm(width, height, header_extra=b"", maxval=255, pixels=None):
    body = pixels if pixels is not None else bytes((i * 37) & 0xff for i in range(width * height * 3))
    return b"P6\n" + header_extra + b"%d %d\n%d\n" % (width, height, maxval) + body


SEEDS = {
    "safetensors": [
        safetensors([("w", "F32", [2, 2], f32(1, 2, 3, 4))]),
        safetensors([("a", "F16", [2], b"\x00\x3c\x00\xc0"), ("b", "BF16", [1], b"\x80\x3f"),
                     ("c", "I64", [1], struct.pack("<q", 7)), ("e", "F32", [0, 5], b"")],
                    metadata={"format": "pt"}),
        safetensors([("x", "BOOL", [3], b"\x00\x01\x00"), ("y", "U8", [], b"\x05")], metadata=None),
        safetensors([("w", "F32", [4], f32(1, 2, 3, 4))])[:-3],  # truncated
        b"\x10\x00\x00\x00\x00\x00\x00\x00{\"w\": not json}",
    ],
    "index": [
        json.dumps({"metadata": {"total_size": 16},
                    "weight_map": {"x": "a.safetensors", "y": "b.safetensors"}}).encode(),
        json.dumps({"weight_map": {"x": "a.safetensors", "y": "a.safetensors"}}).encode(),
        json.dumps({"weight_map": {"x": "../a.safetensors"}}).encode(),
        json.dumps({"weight_map": {}}).encode(),
    ],
    "config": [
        config(),
        config(eos_token_id=[50118, 2], pad_token_id=None),
        json.dumps({"model_type": "blip-2", "vision_config": {"image_size": [364, 364], "patch_size": [14, 14]},
                    "text_config": {"num_hidden_layers": 0, "hidden_size": 2, "num_attention_heads": 1},
                    "num_query_tokens": 1, "image_token_id": 3}).encode(),
        json.dumps({"text_config": {"model_type": "t5"}}).encode(),
        b"{}",
    ],
    "tokenizer_json": [
        tokenizer_json(),
        tokenizer_json(post_processor={"type": "RobertaProcessing", "cls": ["<s>", 0], "sep": ["</s>", 2]}),
        tokenizer_json(post_processor=None, added_tokens=ADDED + [
            {"id": 16, "content": "<image>", "special": True, "normalized": False}]),
        tokenizer_json(model={"type": "BPE", "vocab": VOCAB, "merges": [["\u0120", "a"], ["a", "t"]]}),
    ],
    "tokenizer_files": [
        tokenizer_files(json.dumps(VOCAB, ensure_ascii=False).encode(),
                        ("#version: 0.2\n" + "\n".join(MERGES) + "\n").encode()),
        tokenizer_files(json.dumps(VOCAB, ensure_ascii=False).encode(),
                        ("\n".join(MERGES)).encode(),
                        json.dumps({"<image>": 16}).encode(),
                        json.dumps({"bos_token": "</s>", "eos_token": "</s>", "unk_token": "</s>",
                                    "pad_token": "<pad>",
                                    "additional_special_tokens": ["<image>"]}).encode()),
        tokenizer_files(b"{\"a\": 0}", b"a a\n"),
    ],
    "ppm": [
        ppm(1, 1),
        ppm(4, 3, header_extra=b"# a comment\n"),
        ppm(2, 2, maxval=65535),
        ppm(3, 3)[:-4],
        b"P3\n1 1\n255\n0 0 0\n",
    ],
}


def main():
    for target, seeds in SEEDS.items():
        folder = os.path.join(CORPUS, target)
        os.makedirs(folder, exist_ok=True)
        for i, data in enumerate(seeds):
            with open(os.path.join(folder, "seed-%02d" % i), "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
