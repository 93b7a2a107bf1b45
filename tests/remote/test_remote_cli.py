"""blip2-caption --server against real local servers on 127.0.0.1.

`transformers serve` (started and stopped here) serves the tiny fixture; its
captions must equal the in-process ones (the oracle's) token for token:
the same text and the same number of new tokens. A small local HTTP server
plays a server that fails (4xx, 5xx, garbage, too slow).
  test_remote_cli.py CLI RSS_TOOL FIXTURES REPORT
"""
import json
import os
import subprocess
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import local_server  # noqa: E402

CLI, RSS_TOOL, FIXTURES, REPORT = sys.argv[1:5]
CHECKS = []
STATE = {}


def check(fn):
    CHECKS.append(fn)
    return fn


def run(*args, env=None, timeout=300):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout,
                          env=env or STATE["env"])


def image(name):
    return os.path.join(FIXTURES, "images", name)


def json_lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def greedy_cases():
    with open(os.path.join(FIXTURES, "reference", "tiny", "greedy.json")) as f:
        cases = json.load(f)["cases"]
    return [c for c in cases if len(c["images"]) == 1 and c["min_new_tokens"] == 0]


def one_error_line(out):
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, out.stderr
    return lines[0]


@check
def remote_captions_equal_in_process_captions_token_for_token():
    cases = greedy_cases()
    images = sorted({c["images"][0] for c in cases})
    prompts = sorted({c["prompt"] for c in cases})
    assert len(images) >= 3 and len(prompts) >= 2, (images, prompts)
    compared = 0
    for prompt in prompts:
        for max_new in (5, 20):
            args = ["--model", local_server.MODEL_ID, "--json", "--prompt", prompt,
                    "--max-new-tokens", str(max_new), *[image(n) for n in images]]
            local = run(*args)
            remote = run("--server", STATE["server"].url, *args)
            assert local.returncode == 0, local.stderr
            assert remote.returncode == 0, remote.stderr
            for a, b in zip(json_lines(local.stdout), json_lines(remote.stdout), strict=True):
                assert b["image"] == a["image"]
                assert b["caption"] == a["caption"], (prompt, a, b)
                # transformers serve returns neither ids nor log-probabilities
                assert b["token_ids"] is None and b["score"] is None, b
                compared += 1
    # and the oracle's own captions, with their token counts (usage)
    for c in cases:
        out = run("--server", STATE["server"].url, "--model", local_server.MODEL_ID, "--json",
                  "--prompt", c["prompt"], "--max-new-tokens", str(c["max_new_tokens"]),
                  image(c["images"][0]))
        assert out.returncode == 0, out.stderr
        (line,) = json_lines(out.stdout)
        assert line["caption"] == c["text"][0], (c, line)
    assert compared >= 12


@check
def token_counts_equal_in_process_through_the_library():
    # the RSS tool prints the caption and the server's token count of one request
    for c in greedy_cases():
        out = subprocess.run([RSS_TOOL, STATE["server"].url, local_server.MODEL_ID,
                              image(c["images"][0]), c["prompt"], str(c["max_new_tokens"]), "1"],
                             capture_output=True, text=True, timeout=120, env=STATE["env"])
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout)
        assert report["caption"] == c["text"][0], (c, report)
        assert report["token_count"] == len(c["token_ids"][0]), (c, report)


@check
def client_side_resize_to_the_model_size_gives_the_same_captions():
    case = greedy_cases()[0]
    base = ["--server", STATE["server"].url, "--model", local_server.MODEL_ID, "--json",
            "--prompt", case["prompt"], "--max-new-tokens", str(case["max_new_tokens"])]
    for name in ("stripes-640x480.ppm", "checker-100x100.ppm", "noise-33x77.ppm"):
        plain = run(*base, image(name))
        resized = run(*base, "--resize", "56", image(name))
        assert plain.returncode == 0 and resized.returncode == 0, (plain.stderr, resized.stderr)
        assert json_lines(plain.stdout)[0]["caption"] == json_lines(resized.stdout)[0]["caption"]
    jpeg = run(*base, "--image-format", "jpeg", image("stripes-640x480.ppm"))
    assert jpeg.returncode == 0, jpeg.stderr
    assert isinstance(json_lines(jpeg.stdout)[0]["caption"], str)


@check
def options_the_server_cannot_honour_are_refused_by_name():
    base = ["--server", STATE["server"].url, "--model", local_server.MODEL_ID,
            image("checker-100x100.ppm")]
    for flag, value, name in (("--num-beams", "3", "num-beams"),
                              ("--min-new-tokens", "2", "min-new-tokens"),
                              ("--repetition-penalty", "1.2", "repetition-penalty"),
                              ("--no-repeat-ngram-size", "2", "no-repeat-ngram-size")):
        before = STATE["server"].requests_seen()
        out = run(*base, flag, value)
        assert out.returncode == 2, (flag, out.returncode, out.stderr)
        assert one_error_line(out).startswith(f"blip2-caption: {name}:"), out.stderr
        assert STATE["server"].requests_seen() == before  # refused before any caption request
    out = run(*base, "--do-sample")
    assert out.returncode == 2 and "do-sample" in one_error_line(out), out.stderr


@check
def no_server_and_a_model_not_served_are_one_line_errors_naming_the_url():
    url = f"http://127.0.0.1:{local_server.free_port()}/v1"
    out = run("--server", url, "--model", local_server.MODEL_ID, image("checker-100x100.ppm"))
    assert out.returncode == 1, out.stderr
    line = one_error_line(out)
    assert f"server {url}: cannot reach /models" in line, line
    out = run("--server", STATE["server"].url, "--model", "someone/else",
              image("checker-100x100.ppm"))
    assert out.returncode == 1
    line = one_error_line(out)
    assert f"server {STATE['server'].url}: does not serve model 'someone/else'" in line, line
    assert local_server.MODEL_ID in line, line
    out = run("--server", "ftp://127.0.0.1/v1", "--model", "m", image("checker-100x100.ppm"))
    assert out.returncode == 2 and "not an http:// or https:// URL" in out.stderr, out.stderr


def fault_run(mode, *extra):
    with local_server.FaultServer(mode) as fault:
        out = run("--server", fault.url, "--model", local_server.MODEL_ID, "--retries", "2",
                  *extra, image("checker-100x100.ppm"))
        return fault, out


@check
def server_errors_are_one_line_errors_naming_the_url_and_the_status():
    fault, out = fault_run(("status", 400, json.dumps({"detail": "bad image"})))
    assert out.returncode == 1
    line = one_error_line(out)
    assert f"server {fault.url}: HTTP 400 Bad Request from /chat/completions: bad image" in line
    assert len(fault.chat_requests()) == 1  # a 4xx is not retried
    fault, out = fault_run(("status", 503, "overloaded"))
    assert out.returncode == 1
    line = one_error_line(out)
    assert f"server {fault.url}: HTTP 503 Service Unavailable from /chat/completions: overloaded" \
        in line, line
    assert len(fault.chat_requests()) == 3  # retried twice
    fault, out = fault_run(("status", 429, json.dumps({"error": {"message": "slow down"}})),
                           "--retries", "0")
    assert out.returncode == 1 and "HTTP 429 Too Many Requests" in one_error_line(out)
    assert "slow down" in out.stderr and len(fault.chat_requests()) == 1
    fault, out = fault_run(("garbage",))
    line = one_error_line(out)
    assert out.returncode == 1 and f"server {fault.url}: the answer from /chat/completions is " \
        "not a JSON object: '<html>this is not json'" in line, line


@check
def a_server_too_slow_is_given_up_after_the_request_timeout():
    # the server holds its answer until released, after the client gave up
    fault, out = fault_run(("hold",), "--request-timeout", "300")
    assert out.returncode == 1
    line = one_error_line(out)
    assert f"server {fault.url}: no answer from /chat/completions within 300 ms" in line, line
    assert len(fault.chat_requests()) == 1  # a timeout is not retried


@check
def the_api_key_is_sent_as_a_bearer_token_and_never_shown():
    secret = "sk-test-5ecret-never-shown"
    env = dict(STATE["env"], OPENAI_API_KEY=secret)
    with local_server.FaultServer(("status", 401, json.dumps({"detail": "no"}))) as fault:
        out = run("--server", fault.url, "--model", local_server.MODEL_ID,
                  image("checker-100x100.ppm"), env=env)
        assert out.returncode == 1 and "HTTP 401 Unauthorized" in out.stderr, out.stderr
        assert secret not in out.stderr + out.stdout
        assert all(h.get("Authorization") == f"Bearer {secret}" for _, h, _ in fault.requests)
    with local_server.FaultServer(("ok", " a caption\n")) as fault:
        out = run("--server", fault.url, "--model", local_server.MODEL_ID, "--api-key", "k2",
                  "--json", image("checker-100x100.ppm"), env=env)
        assert out.returncode == 0, out.stderr
        assert json_lines(out.stdout)[0]["caption"] == "a caption"  # trimmed as in process
        assert all(h.get("Authorization") == "Bearer k2" for _, h, _ in fault.requests)
    out = run("--api-key", "k3", "--model", "m", image("checker-100x100.ppm"))
    assert out.returncode == 2 and "need --server" in out.stderr and "k3" not in out.stderr


@check
def a_thousand_requests_leave_the_client_rss_flat():
    case = greedy_cases()[0]
    out = subprocess.run([RSS_TOOL, STATE["server"].url, local_server.MODEL_ID,
                          image("stripes-640x480.ppm"), case["prompt"], "3", "1000"],
                         capture_output=True, text=True, timeout=1200, env=STATE["env"])
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["requests"] == 1000 and report["failures"] == 0, report
    growth = report["rss_kb_end"] - report["rss_kb_after_100"]
    assert growth < 1024, report  # under 1 MiB from request 100 to request 1000
    print("rss", report)


def main():
    cases, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        hub = local_server.make_hub(FIXTURES, tmp)
        STATE["env"] = dict(os.environ, HF_HUB_CACHE=hub, HF_HUB_OFFLINE="1")
        STATE["env"].pop("OPENAI_API_KEY", None)
        with local_server.TransformersServer(hub, os.path.join(tmp, "server.log")) as server:
            STATE["server"] = server
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
        json.dump({"testsuites": [{"name": "remote_cli", "testsuite": cases}]}, f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
