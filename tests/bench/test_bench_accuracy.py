"""bench_accuracy end to end on two tiny models: its report (float32 as the
reference, bfloat16 and bfloat16 + int8 compared step by step) holds what
docs/full-size-cpu.md quotes from it, and an unknown option is an error.
  test_bench_accuracy.py BENCH FIXTURES
Exit status 0 when every check passed.
"""
import json
import os
import subprocess
import sys
import tempfile

BENCH, FIXTURES = sys.argv[1:3]


def accuracy(model, *args):
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-test-") as work:
        report = os.path.join(work, "report.json")
        out = subprocess.run([BENCH, "--model", os.path.join(FIXTURES, "models", model), "--image",
                              os.path.join(FIXTURES, "images", "gradient-64x48.ppm"), "--new-tokens",
                              "6", "--json", report, *args], capture_output=True, text=True,
                             timeout=240)
        assert out.returncode == 0, out.stderr
        return json.load(open(report)), out.stdout


def main():
    for model in ("tiny", "tiny-legacy"):
        report, table = accuracy(model)
        configs = [c["config"] for c in report["configs"]]
        assert configs == ["float32", "bfloat16", "bfloat16+int8"], configs
        assert len(report["configs"][0]["token_ids"]) == 6, report
        for entry in report["configs"][1:]:
            errors = entry["relative_error"]
            assert len(errors) == 6 and len(entry["top1_agreement"]) == 6, entry
            # reduced precision moves the logits, but not far (unit-scale random weights)
            assert all(0 < e < 0.2 for e in errors), (model, entry["config"], errors)
            assert len(entry["free_token_ids"]) == 6, entry
        int8, bf16 = report["configs"][2], report["configs"][1]
        assert max(int8["relative_error"]) > max(bf16["relative_error"]), (bf16, int8)
        assert "| bfloat16+int8 |" in table, table
    out = subprocess.run([BENCH, "--model", "x", "--image", "y", "--bogus", "1"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "--bogus" in out.stderr, out
    print("bench_accuracy: all checks passed")


if __name__ == "__main__":
    main()
