"""End-to-end tests of the blip2-caption CLI against the oracle's captions.

Each check is one test case; the results are written as a GoogleTest-style
JSON report (read by tests/summarize.py) and the exit status is non-zero when
any check failed.
  test_cli.py CLI FIXTURES REPORT with-gstreamer|without-gstreamer VERSION
"""
import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import tempfile
import termios
import time
import traceback

CLI, FIXTURES, REPORT, GSTREAMER, VERSION = sys.argv[1:6]
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def run(*args, env=None, stdin=None, timeout=300):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=stdin)


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
def quantize_int8_captions_in_bfloat16():
    case = next(c for c in reference("tiny")["cases"] if len(c["images"]) == 1)
    args = ["--json", "--prompt", case["prompt"], "--max-new-tokens", str(case["max_new_tokens"]),
            "--min-new-tokens", str(case["min_new_tokens"]), image(case["images"][0])]
    out = run("--model", model_dir("tiny"), "--quantize", "int8", *args)
    assert out.returncode == 0, out.stderr
    (line,) = json_lines(out.stdout)
    assert line["token_ids"] and isinstance(line["score"], float), line
    # the same as the library's own bfloat16 + int8 model: the CLI passed the option on
    explicit = run("--model", model_dir("tiny"), "--quantize", "int8", "--dtype", "bfloat16", *args)
    assert json_lines(explicit.stdout) == [line], (explicit.stdout, line)
    proc, text = run_on_terminal("--model", model_dir("tiny"), "--quantize", "int8", *args)
    assert proc.returncode == 0, text
    assert b"running on cpu in bfloat16 with int8 weights (device auto, dtype auto)" in text, text


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


@check
def every_invalid_value_exits_2_before_the_model_loads():
    # the model does not exist: a check after loading would exit 1 for it instead
    absent = "/nonexistent/model"
    for flags, needle in [
        (["--device", "cuda:7"], "cuda"),
        (["--device", "gpu"], "gpu"),
        (["--dtype", "float8"], "float8"),
        (["--quantize", "int4"], "int4"),
        (["--quantize", "int8", "--dtype", "float32"], "bfloat16"),
        (["--quantize", "int8", "--device", "cuda"], "CPU only"),
        (["--num-beams", "0"], "num_beams"),
        (["--top-p", "2"], "top_p"),
        (["--temperature", "0"], "temperature"),
        (["--num-beams", "2", "--num-return-sequences", "3"], "num_return_sequences"),
        (["--max-new-tokens", "0"], "max_new_tokens"),
        (["--early-stopping", "sometimes"], "--early-stopping"),
        (["--do-sample=maybe"], "--do-sample"),
        (["--batch", "0"], "--batch"),
    ]:
        out = run("--model", absent, *flags, image("pixel-1x1.ppm"))
        expect_one_line_error(out, 2, needle)


@check
def values_only_the_model_can_judge_exit_2_before_any_caption():
    # the tiny model has a small position table and the <image> token
    for flags, needle in [
        (["--num-beams", "2147483647"], "num_beams"),
        (["--max-new-tokens", "1000000000"], "positions"),
        (["--prompt", "word " * 10000], "positions"),
        (["--prompt", "a <image> photo of"], "image placeholder"),
    ]:
        out = run("--model", model_dir("tiny"), *flags, image("pixel-1x1.ppm"))
        expect_one_line_error(out, 2, needle)


@check
def prompts_are_utf8_whatever_the_locale():
    base = ["--model", model_dir("tiny"), "--json", "--max-new-tokens", "3"]
    for prompt in ("café", "a photo of \U0001F431"):
        seen = []
        for lang in ("C", "POSIX", "C.UTF-8"):
            env = dict(os.environ, LANG=lang, LC_ALL=lang)
            out = run(*base, "--prompt", prompt, image("pixel-1x1.ppm"), env=env)
            assert out.returncode == 0, (prompt, lang, out.stderr)
            seen.append(json_lines(out.stdout)[0]["token_ids"])
        assert seen[0] == seen[1] == seen[2], (prompt, seen)


@check
def a_prompt_that_is_not_utf8_names_the_option_and_the_byte():
    out = subprocess.run([CLI, "--model", model_dir("tiny"), "--prompt", b"caf\xe9 au lait",
                          image("pixel-1x1.ppm")], capture_output=True, timeout=60)
    assert out.returncode == 2, out
    lines = out.stderr.decode().splitlines()
    assert len(lines) == 1 and "--prompt" in lines[0] and "UTF-8" in lines[0] \
        and "byte 3" in lines[0], lines
    assert out.stdout == b""


@check
def do_sample_is_a_flag_that_never_takes_the_image():
    base = ["--model", model_dir("tiny"), "--json", "--max-new-tokens", "4"]
    greedy = run(*base, image("pixel-1x1.ppm"))
    assert greedy.returncode == 0, greedy.stderr
    greedy_ids = json_lines(greedy.stdout)[0]["token_ids"]
    for flags in (["--do-sample"], ["--do-sample=true"], ["--no-do-sample"],
                  ["--do-sample=false"], ["--do-sample", "--no-do-sample"],
                  ["--do-sample", "--seed", "7"]):
        out = run(*base, *flags, image("pixel-1x1.ppm"))
        assert out.returncode == 0, (flags, out.stderr)
        (line,) = json_lines(out.stdout)
        assert line["image"] == image("pixel-1x1.ppm"), (flags, line)
        if flags[-1] in ("--no-do-sample", "--do-sample=false"):
            assert line["token_ids"] == greedy_ids, (flags, line)
    # an image named like a value is an image
    with tempfile.TemporaryDirectory() as tmp:
        with open(image("pixel-1x1.ppm"), "rb") as src, \
                open(os.path.join(tmp, "false"), "wb") as dst:
            dst.write(src.read())
        out = subprocess.run([CLI, *base, "--do-sample", "false"], capture_output=True,
                             text=True, timeout=300, cwd=tmp)
        assert out.returncode == 0, out.stderr
        assert [line["image"] for line in json_lines(out.stdout)] == ["false"], out.stdout
    # a value-taking option still takes "--do-sample=..." as its value
    out = run(*base, "--prompt", "--do-sample=maybe", image("pixel-1x1.ppm"))
    assert out.returncode == 0, out.stderr


@check
def a_model_that_is_not_a_folder_says_what_it_is():
    with tempfile.TemporaryDirectory() as tmp:
        weights = os.path.join(tmp, "model.safetensors")
        with open(weights, "w") as f:
            f.write("x")
        loop = os.path.join(tmp, "loop")
        os.symlink(loop, loop)
        for path, what in [(os.path.join(tmp, "missing"), "does not exist"),
                           (weights, "is a regular file, not a folder"),
                           (loop, "is a symbolic link loop")]:
            expect_one_line_error(run("--model", path, image("pixel-1x1.ppm")), 1,
                                  f"model '{path}' {what}")


@check
def help_gives_one_line_per_option_with_its_default():
    out = run("--help")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for option, default in [("--model", "required"), ("--revision", "main"),
                            ("--device", "auto"), ("--dtype", "auto"), ("--quantize", "none"),
                            ("--max-new-tokens", "30"), ("--min-new-tokens", "0"),
                            ("--num-beams", "1"), ("--top-k", "50"), ("--top-p", "1.0"),
                            ("--batch", "1"), ("--json", "default")]:
        (line,) = [l for l in lines if l.strip().startswith(("-", option)) and option in l]
        assert default in line, (option, line)
    assert "--version" in out.stdout and "Exit status" in out.stdout


@check
def version_prints_the_project_version():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == "blip2-caption " + VERSION, out


@check
def dash_reads_the_image_from_standard_input():
    args = ["--model", model_dir("tiny"), "--json", "--max-new-tokens", "6"]
    from_path = run(*args, image("gradient-64x48.ppm"))
    with open(image("gradient-64x48.ppm"), "rb") as f:
        from_stdin = run(*args, "-", stdin=f)
    assert from_stdin.returncode == 0, from_stdin.stderr
    (line,) = json_lines(from_stdin.stdout)
    assert line["image"] == "-"
    assert line["token_ids"] == json_lines(from_path.stdout)[0]["token_ids"]
    expect_one_line_error(run(*args, "-", "-"), 2, "standard input")


@check
def a_bad_image_is_reported_and_the_others_captioned():
    good = image("pixel-1x1.ppm")
    for batch in ("1", "3"):
        out = run("--model", model_dir("tiny"), "--json", "--max-new-tokens", "4", "--batch", batch,
                  good, "/nonexistent.ppm", image("gradient-64x48.ppm"))
        assert out.returncode == 1, (out.returncode, out.stderr)
        assert [l["image"] for l in json_lines(out.stdout)] == \
            [good, image("gradient-64x48.ppm")], out.stdout
        assert "/nonexistent.ppm" in out.stderr and len(out.stderr.splitlines()) == 1, out.stderr


@check
def a_fifo_is_refused_without_blocking():
    with tempfile.TemporaryDirectory() as tmp:
        fifo = os.path.join(tmp, "image.ppm")
        os.mkfifo(fifo)
        # nobody writes to it: reading it would block forever
        out = run("--model", model_dir("tiny"), fifo, timeout=120)
        expect_one_line_error(out, 1, "not a regular file")


@check
def a_decoder_error_is_reported_at_once():
    if GSTREAMER != "with-gstreamer":
        return
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.png")
        with open(bad, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
        start = time.monotonic()
        out = run("--model", model_dir("tiny"), bad, timeout=120)
        elapsed = time.monotonic() - start
        expect_one_line_error(out, 1, bad)
        # the former decoder waited for a 30 s timeout before it reported
        assert elapsed < 25, elapsed


def hub_cache(tmp, repo_id, target, refs):
    """A Hugging Face cache in tmp holding `target` as repo_id's snapshot(s)."""
    repo = os.path.join(tmp, "models--" + repo_id.replace("/", "--"))
    for ref, commit in refs.items():
        os.makedirs(os.path.join(repo, "snapshots"), exist_ok=True)
        snapshot = os.path.join(repo, "snapshots", commit)
        if not os.path.exists(snapshot):
            os.symlink(os.path.abspath(target), snapshot)
        os.makedirs(os.path.dirname(os.path.join(repo, "refs", ref)), exist_ok=True)
        with open(os.path.join(repo, "refs", ref), "w") as f:
            f.write(commit)
    return dict(os.environ, HF_HUB_CACHE=tmp)


@check
def repo_ids_and_revisions_resolve_from_the_cache():
    args = ["--json", "--max-new-tokens", "5", image("pixel-1x1.ppm")]
    expected = json_lines(run("--model", model_dir("tiny"), *args).stdout)[0]["token_ids"]
    with tempfile.TemporaryDirectory() as tmp:
        env = hub_cache(tmp, "blip2-test/tiny", model_dir("tiny"),
                        {"main": "a" * 40, "v1": "b" * 40})
        for extra in ([], ["--revision", "v1"], ["--revision", "b" * 40]):
            out = run("--model", "blip2-test/tiny", *extra, *args, env=env)
            assert out.returncode == 0, (extra, out.stderr)
            assert json_lines(out.stdout)[0]["token_ids"] == expected
        missing = run("--model", "blip2-test/absent", *args, env=env)
        expect_one_line_error(missing, 1, "hf download blip2-test/absent")
        assert missing.stderr.rstrip().endswith("hf download blip2-test/absent"), missing.stderr
        no_rev = run("--model", "blip2-test/tiny", "--revision", "v2", *args, env=env)
        expect_one_line_error(no_rev, 1, "hf download blip2-test/tiny --revision v2")
        expect_one_line_error(run("--model", model_dir("tiny"), "--revision", "v1", *args,
                                  env=env), 2, "revision")


def linked_checkpoint(tmp, name, source, extra=None):
    """A folder `name` holding links to `source`'s files, plus `extra` files."""
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    for entry in os.listdir(source):
        if entry != "generation_config.json":
            os.symlink(os.path.abspath(os.path.join(source, entry)), os.path.join(folder, entry))
    for file, content in (extra or {}).items():
        with open(os.path.join(folder, file), "w") as f:
            json.dump(content, f)
    return folder


@check
def default_prompt_follows_the_checkpoint_not_the_folder_name():
    coco_case = next(c for c in reference("tiny-coco")["cases"]
                     if c["prompt"] == "a photo of" and len(c["images"]) == 1)
    plain_case = next(c for c in reference("tiny")["cases"]
                      if c["prompt"] == "" and len(c["images"]) == 1)
    with tempfile.TemporaryDirectory() as tmp:
        # a 364 px checkpoint downloaded into ./blip2 still gets "a photo of"
        coco = linked_checkpoint(tmp, "blip2", model_dir("tiny-coco"))
        out = run("--model", coco, "--json", "--max-new-tokens", str(coco_case["max_new_tokens"]),
                  "--min-new-tokens", str(coco_case["min_new_tokens"]),
                  image(coco_case["images"][0]))
        assert out.returncode == 0, out.stderr
        assert json_lines(out.stdout)[0]["token_ids"] == coco_case["token_ids"][0]
        # a 224 px checkpoint in a folder called "...-coco" gets no prompt
        plain = linked_checkpoint(tmp, "my-coco", model_dir("tiny"))
        out = run("--model", plain, "--json", "--max-new-tokens",
                  str(plain_case["max_new_tokens"]), "--min-new-tokens",
                  str(plain_case["min_new_tokens"]), image(plain_case["images"][0]))
        assert out.returncode == 0, out.stderr
        assert json_lines(out.stdout)[0]["token_ids"] == plain_case["token_ids"][0]


@check
def generation_config_json_gives_defaults_that_flags_override():
    img = image("gradient-64x48.ppm")
    with tempfile.TemporaryDirectory() as tmp:
        folder = linked_checkpoint(tmp, "tiny-gencfg", model_dir("tiny"),
                                   {"generation_config.json": {"max_new_tokens": 3,
                                                               "num_beams": 2}})
        from_file = run("--model", folder, "--json", img)
        explicit = run("--model", model_dir("tiny"), "--json", "--max-new-tokens", "3",
                       "--num-beams", "2", img)
        assert from_file.returncode == 0 and explicit.returncode == 0, from_file.stderr
        assert json_lines(from_file.stdout)[0]["token_ids"] == \
            json_lines(explicit.stdout)[0]["token_ids"]
        assert len(json_lines(from_file.stdout)[0]["token_ids"]) <= 3
        overridden = run("--model", folder, "--json", "--max-new-tokens", "7", "--num-beams", "1",
                         img)
        plain = run("--model", model_dir("tiny"), "--json", "--max-new-tokens", "7", img)
        assert json_lines(overridden.stdout)[0]["token_ids"] == \
            json_lines(plain.stdout)[0]["token_ids"]
        # a bad value in the file is an error naming it
        bad = linked_checkpoint(tmp, "tiny-badcfg", model_dir("tiny"),
                                {"generation_config.json": {"num_beams": "five"}})
        expect_one_line_error(run("--model", bad, img), 1, "num_beams")


def run_on_terminal(*args):
    """Runs the CLI with stderr on an 80-column pseudo-terminal; returns (process, stderr bytes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    try:
        proc = subprocess.run([CLI, *args], stdout=subprocess.PIPE, stderr=slave, timeout=300)
        os.close(slave)
        slave = None
        text = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the terminal has no writer left
                break
            if not chunk:
                break
            text += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return proc, text


@check
def on_a_terminal_it_says_what_auto_chose():
    proc, text = run_on_terminal("--model", model_dir("tiny"), "--max-new-tokens", "3",
                                 image("pixel-1x1.ppm"))
    assert proc.returncode == 0
    assert b"running on cpu in float32 (device auto, dtype auto)" in text, text
    piped = run("--model", model_dir("tiny"), "--max-new-tokens", "3", image("pixel-1x1.ppm"))
    assert piped.stderr == "", piped.stderr


@check
def on_a_terminal_loading_shows_a_progress_bar_that_ends_at_100_percent():
    args = ("--model", model_dir("tiny"), "--max-new-tokens", "3", image("pixel-1x1.ppm"))
    proc, text = run_on_terminal(*args)
    assert proc.returncode == 0
    # each drawing starts with \r; the terminal turns the final newline into \r\n
    draws = text.split(b"\r\n")[0].split(b"\r")[1:]
    assert draws and all(d.startswith(b"loading model  [") for d in draws), text
    last = draws[-1].rstrip()
    assert last.startswith(b"loading model  [" + b"#" * 30 + b"]  100%  "), text
    assert last.endswith(b" MB") or last.endswith(b" kB"), text
    done, total = last.split(b"  ")[-1].split(b" ")[0].split(b"/")
    assert done.strip() == total, text
    # the bar has its own line, then comes the device line
    assert b"]  100%" in text.split(b"running on cpu")[0], text
    # --quiet: neither bar nor device line
    quiet, quiet_text = run_on_terminal("--quiet", *args)
    assert quiet.returncode == 0 and quiet_text == b"", quiet_text
    # not a terminal: no bar at all
    piped = run(*args)
    assert piped.returncode == 0
    assert "\r" not in piped.stderr and "loading model" not in piped.stderr, piped.stderr


@check
def help_says_when_the_progress_bar_shows_and_how_to_turn_it_off():
    out = run("--help")
    assert out.returncode == 0
    (quiet,) = [l for l in out.stdout.splitlines() if l.strip().startswith("-q, --quiet")]
    assert "loading progress bar" in quiet, quiet
    assert "On a terminal, stderr shows a loading progress bar" in out.stdout, out.stdout


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
