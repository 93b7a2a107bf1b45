#!/usr/bin/env python3
"""The CPU kernels behind each linear layer kind of BLIP-2 OPT-2.7B, per row count.

  .venv/bin/python tests/bench/cpu_kernels.py [--threads 2] [--rounds 5] [--rows 1,2,5,36,677]

For every layer kind (the language model's attention projections, fc1, fc2 and
head; the vision tower's qkv and fc1) and row count (1 = a greedy decoding step, 5
= beam 5, 36 = the prefill of 32 queries and a short prompt, 677 = the vision
tower at 364 px), it times y = x·Wᵀ through:
  fp32        at::linear in float32
  bf16        at::linear in bfloat16
  bf16 2-row  a single row padded to two rows (what dense_linear does)
  int8        at::_weight_int8pack_mm (int8 weights, one scale per row, bf16 x)
Each kernel cycles through enough copies of the weight to exceed the caches (as
decoding streams every layer once per token), best of --rounds passes; the
table gives milliseconds per product and the weight bytes read per second.
"""
import argparse
import time

import torch

KINDS = {"lm q/k/v/out": (2560, 2560), "lm fc1": (10240, 2560), "lm fc2": (2560, 10240),
         "lm head": (50304, 2560), "vision qkv": (4224, 1408), "vision fc1": (6144, 1408)}
CACHE_BYTES = 512 << 20  # cycle through at least this many weight bytes


def timed(fn, copies, rounds):
    fn(0)
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(copies):
            fn(i)
        best = min(best, (time.perf_counter() - start) / copies)
    return best * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rows", default="1,5,36")
    ap.add_argument("--kinds", default=",".join(KINDS))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    F = torch.nn.functional
    print(f"torch {torch.__version__}, {args.threads} threads, best of {args.rounds}; ms per product "
          "(GB/s of weights read)")
    print("| layer | rows | fp32 | bf16 | bf16 2-row | int8 |")
    print("|---|---|---|---|---|---|")
    for kind in args.kinds.split(","):
        n, k = KINDS[kind]
        copies = max(2, CACHE_BYTES // (n * k))
        base = torch.randn(n, k) * 0.02
        scale = base.abs().amax(1) / 127
        w32 = [base + i * 1e-3 for i in range(copies)]
        w16 = [w.bfloat16() for w in w32]
        w8 = [torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8) for w in w32]
        s16 = scale.bfloat16()
        for rows in [int(r) for r in args.rows.split(",")]:
            x32 = torch.randn(rows, k)
            x16 = x32.bfloat16()
            pad = torch.zeros(1, k, dtype=torch.bfloat16)
            cells = []
            for fn, nbytes in (
                    (lambda i: F.linear(x32, w32[i]), 4),
                    (lambda i: F.linear(x16, w16[i]), 2),
                    ((lambda i: F.linear(torch.cat([x16, pad]), w16[i])[:1]) if rows == 1 else None, 2),
                    (lambda i: torch.ops.aten._weight_int8pack_mm(x16, w8[i], s16), 1)):
                if fn is None:
                    cells.append("")
                    continue
                ms = timed(fn, copies, args.rounds)
                cells.append(f"{ms:.2f} ({n * k * nbytes / ms / 1e6:.0f})")
            print(f"| {kind} | {rows} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
