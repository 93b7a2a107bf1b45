"""End-to-end tests of the blip2-caption CLI against the oracle's captions.

Each check is one test case; the results are written as a GoogleTest-style
JSON report (read by tests/summarize.py) and the exit status is non-zero when
any check failed.
  test_cli.py CLI FIXTURES REPORT with-gstreamer|without-gstreamer
"""
import json
import os
import subprocess
import sys
import tempfile
import traceback

CLI, FIXTURES, REPORT, GSTREAMER = sys.argv[1:5]
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def run(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)


def reference(model):
    with open(os.path.join(FIXTURES, "reference", model, "greedy.json")) as f:
        return json.load(f)


def image(name):
    return os.path.join(FIXTURES, "images", name)


def model_dir(name):
    return os.path.join(FIXTURES, "models", name)


def json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@check
def json_output_equals_transformers_for_every_single_image_case():
    for model in ("tiny", "tiny-legacy", "tiny-proj", "tiny-coco"):
        for case in reference(model)["cases"]:
            if len(case["images"]) != 1:
                continue
            out = run("--model", model_dir(model), "--json", "--prompt", case["prompt"],
                      "--max-new-tokens", str(case["max_new_tokens"]),
                      "--min-new-tokens", str(case["min_new_tokens"]), image(case["images"][0]))
            assert out.returncode == 0, out.stderr
            (line,) = json_lines(out.stdout)
            assert line["image"] == image(case["images"][0])
            assert line["token_ids"] == case["token_ids"][0], (model, case, line)
            assert line["caption"] == case["text"][0], (model, case, line)
            assert isinstance(line["score"], float) and line["score"] <= 0.0


@check
def several_images_give_one_line_each_in_order():
    case = next(c for c in reference("tiny")["cases"] if len(c["images"]) == 3)
    paths = [image(n) for n in case["images"]]
    for batch in ("1", "3"):
        out = run("--model", model_dir("tiny"), "--json", "--prompt", case["prompt"],
                  "--max-new-tokens", str(case["max_new_tokens"]), "--batch", batch, *paths)
        assert out.returncode == 0, out.stderr
        lines = json_lines(out.stdout)
        assert [line["image"] for line in lines] == paths
        assert [line["token_ids"] for line in lines] == case["token_ids"], (batch, lines)


@check
def coco_checkpoint_defaults_to_its_captioning_prompt():
    case = next(c for c in reference("tiny-coco")["cases"]
                if c["prompt"] == "a photo of" and len(c["images"]) == 1)
    out = run("--model", model_dir("tiny-coco"), "--json", "--max-new-tokens",
              str(case["max_new_tokens"]), "--min-new-tokens", str(case["min_new_tokens"]),
              image(case["images"][0]))
    assert out.returncode == 0, out.stderr
    assert json_lines(out.stdout)[0]["token_ids"] == case["token_ids"][0]


@check
def plain_output_is_path_colon_caption():
    out = run("--model", model_dir("tiny"), "--max-new-tokens", "4", image("pixel-1x1.ppm"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(image("pixel-1x1.ppm") + ": "), out.stdout


@check
def png_and_jpeg_are_read_when_built_with_gstreamer():
    from PIL import Image
    ppm = image("gradient-64x48.ppm")
    with tempfile.TemporaryDirectory() as tmp:
        png = os.path.join(tmp, "gradient.png")
        jpeg = os.path.join(tmp, "gradient.jpg")
        Image.open(ppm).save(png)
        Image.open(ppm).save(jpeg, quality=95)
        args = ["--model", model_dir("tiny"), "--json", "--max-new-tokens", "6"]
        from_ppm = run(*args, ppm)
        assert from_ppm.returncode == 0, from_ppm.stderr
        from_png = run(*args, png)
        if GSTREAMER == "with-gstreamer":
            assert from_png.returncode == 0, from_png.stderr
            # PNG is lossless: the very same pixels, so the very same caption
            assert json_lines(from_png.stdout)[0]["token_ids"] == \
                json_lines(from_ppm.stdout)[0]["token_ids"]
            from_jpeg = run(*args, jpeg)
            assert from_jpeg.returncode == 0, from_jpeg.stderr
            assert len(json_lines(from_jpeg.stdout)) == 1
        else:
            expect_one_line_error(from_png, 1, "PPM only")


def expect_one_line_error(out, status, needle):
    assert out.returncode == status, (out.returncode, out.stderr)
    first = out.stderr.splitlines()[0] if out.stderr else ""
    assert first.startswith("blip2-caption: ") and needle in first, out.stderr
    assert out.stdout == "", out.stdout


@check
def bad_arguments_exit_2_with_a_message():
    expect_one_line_error(run(image("pixel-1x1.ppm")), 2, "--model")
    expect_one_line_error(run("--model", model_dir("tiny")), 2, "IMAGE")
    expect_one_line_error(run("--model", model_dir("tiny"), "--max-new-tokens", "x",
                              image("pixel-1x1.ppm")), 2, "integer")
    expect_one_line_error(run("--model", model_dir("tiny"), "--frobnicate", image("pixel-1x1.ppm")),
                          2, "--frobnicate")


@check
def bad_files_exit_1_with_a_message():
    expect_one_line_error(run("--model", "/nonexistent/model", image("pixel-1x1.ppm")), 1,
                          "/nonexistent/model")
    expect_one_line_error(run("--model", model_dir("tiny"), "/nonexistent.ppm"), 1,
                          "/nonexistent.ppm")
    with tempfile.NamedTemporaryFile(suffix=".ppm") as bad:
        bad.write(b"P6\n4 4\n255\n\x00\x01")
        bad.flush()
        expect_one_line_error(run("--model", model_dir("tiny"), bad.name), 1, "truncated")
    with tempfile.NamedTemporaryFile(suffix=".png") as png:
        png.write(b"\x89PNG\r\n\x1a\n")
        png.flush()
        expect_one_line_error(run("--model", model_dir("tiny"), png.name), 1, png.name)
    expect_one_line_error(run("--model", model_dir("tiny"), "--device", "cuda:7",
                              image("pixel-1x1.ppm")), 1, "cuda")


def main():
    cases, failed = [], 0
    for fn in CHECKS:
        try:
            fn()
            cases.append({"name": fn.__name__, "result": "COMPLETED"})
            print("PASS", fn.__name__)
        except Exception:  # noqa: BLE001 - every failure is reported
            failed += 1
            cases.append({"name": fn.__name__, "result": "COMPLETED",
                          "failures": [{"failure": traceback.format_exc()}]})
            print("FAIL", fn.__name__, traceback.format_exc(), sep="\n")
    os.makedirs(os.path.dirname(REPORT), exist_ok=True)
    with open(REPORT, "w") as f:
        json.dump({"testsuites": [{"name": "cli", "testsuite": cases}]}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
