#!/usr/bin/env python3
"""Which CPU decode step is faster: the static DecodeStep or the dynamic loop.

Run by hand (not by the test suite), on a quiet machine:

  .venv/bin/python tests/bench/decode_step.py --checkpoint DIR [--bench build/examples/blip2-bench]
      [--threads 2] [--new-tokens 12] [--rounds 3] [--iters 3]

DIR is a checkpoint folder such as the ones tests/bench/full_size.py builds
(`--size lm4` keeps the full-size language model's widths with 4 layers, so
that one step costs what one step of 4 of the 32 layers costs). Each round runs
`blip2-bench` once with `--decode-step static` and once with `dynamic`
(alternating, so that drift hits both alike), greedy and beam 5, batch 1; each
run reports its medians of --iters captions. The table keeps each figure's best
round and gives static / dynamic (below 1: static is faster).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = ("static", "dynamic")


def run_bench(args, step, env):
    with tempfile.TemporaryDirectory(prefix="blip2-decode-step-") as work:
        report = os.path.join(work, "report.json")
        subprocess.run([args.bench, "--model", args.checkpoint, "--device", "cpu", "--dtype", "float32",
                        "--batches", "1", "--beams", "1,5", "--new-tokens", str(args.new_tokens),
                        "--iters", str(args.iters), "--warmup", "1", "--frame", "640x480",
                        "--frame-format", "rgb", "--decode-step", step, "--json", report],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        return json.load(open(report))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "examples", "blip2-bench"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--new-tokens", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    best = {}  # (step, beams) -> {"token": ms, "caption": ms, "decoder": name}
    for round_index in range(args.rounds):
        for step in STEPS:
            print(f"round {round_index + 1}/{args.rounds}: {step} ...", file=sys.stderr)
            for run in run_bench(args, step, env)["runs"]:
                slot = best.setdefault((step, run["beams"]), {"token": float("inf"), "caption": float("inf")})
                slot["token"] = min(slot["token"], run["decode_per_token_ms"])
                slot["caption"] = min(slot["caption"], run["caption_ms"])
                slot["decoder"] = run["decoder"]
    lines = [f"CPU, {args.threads} threads, float32, {args.new_tokens} new tokens, batch 1, best of "
             f"{args.rounds} rounds of medians of {args.iters}",
             "", "| beams | static ms/token | dynamic ms/token | static / dynamic | static caption ms | "
             "dynamic caption ms |", "|---|---|---|---|---|---|"]
    for beams in (1, 5):
        s, d = best[("static", beams)], best[("dynamic", beams)]
        for step, slot in (("static", s), ("dynamic", d)):
            if slot["decoder"] != step:
                raise SystemExit(f"asked for the {step} step, blip2-bench ran {slot['decoder']}")
        lines.append(f"| {beams} | {s['token']:,.1f} | {d['token']:,.1f} | {s['token'] / d['token']:.2f} | "
                     f"{s['caption']:,.0f} | {d['caption']:,.0f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
