"""blip2-bench end to end on the tiny model: the JSON report the benchmark
scripts read (full_size.py, decode_step.py, tools/device_check.sh), the decode
step it was asked for, the load-only mode and its usage errors.
  test_blip2_bench.py BENCH FIXTURES
Exit status 0 when every check passed.
"""
import json
import os
import subprocess
import sys
import tempfile
import traceback

BENCH, FIXTURES = sys.argv[1:3]
MODEL = os.path.join(FIXTURES, "models", "tiny")


def bench(*args):
    with tempfile.TemporaryDirectory(prefix="blip2-bench-test-") as work:
        report = os.path.join(work, "report.json")
        out = subprocess.run([BENCH, "--model", MODEL, "--device", "cpu", "--dtype", "float32",
                              "--frame", "64x48", "--frame-format", "rgb", "--json", report, *args],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.load(open(report))


def report_has_every_stage_for_each_configuration():
    for step in ("static", "dynamic"):
        r = bench("--decode-step", step, "--beams", "1,2", "--batches", "1,2", "--beam-batches", "1",
                  "--new-tokens", "4", "--iters", "1", "--warmup", "0")
        assert r["decode_step"] == step and r["check_finite"] is True, r
        assert r["load_ms"] > 0 and r["first_caption_ms"] > r["load_ms"], r
        shapes = [(run["batch"], run["beams"]) for run in r["runs"]]
        assert shapes == [(1, 1), (2, 1), (1, 2)], shapes
        for run in r["runs"]:
            assert run["decoder"] == step, run
            assert set(run["stages_ms"]) >= {"preprocess", "vision", "qformer", "prefill"}, run
            assert run["decode_per_token_ms"] > 0 and run["caption_ms"] > 0, run


def iters_zero_measures_the_load_only_and_can_skip_the_weight_scan():
    r = bench("--iters", "0", "--check-finite", "no")
    assert r["runs"] == [] and r["check_finite"] is False, r
    assert 0 < r["load_ms"] < r["first_caption_ms"], r


def bad_values_are_usage_errors():
    for args in (["--check-finite", "maybe"], ["--iters", "-1"], ["--beams", "0"], ["--bogus", "1"]):
        out = subprocess.run([BENCH, "--model", MODEL, *args], capture_output=True, text=True, timeout=60)
        assert out.returncode == 2, (args, out.returncode, out.stderr)
        assert out.stderr.startswith("blip2-bench: "), out.stderr


def main():
    failed = 0
    for check in (report_has_every_stage_for_each_configuration,
                  iters_zero_measures_the_load_only_and_can_skip_the_weight_scan,
                  bad_values_are_usage_errors):
        try:
            check()
            print("PASS", check.__name__)
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            print("FAIL", check.__name__, traceback.format_exc(), sep="\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
