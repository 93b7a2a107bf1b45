"""Real local servers for the remote-caption tests, on 127.0.0.1 only.

TransformersServer runs `transformers serve` (serve_transformers.py) on a tiny
BLIP-2 checkpoint placed in a private Hugging Face cache, so that the same repo
id names the model for the server and for the in-process library. FaultServer
is a small HTTP server answering /v1/models correctly and
/v1/chat/completions the way a test asks (an HTTP status, garbage, an answer
held back until released). Both are context managers and stop what they start.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
CHAT_TEMPLATE = os.path.join(SOURCE_ROOT, "examples", "serving", "blip2_caption.jinja")
MODEL_ID = "blip2-test/tiny"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_hub(fixtures, root):
    """A Hugging Face cache under `root` holding the tiny fixture as MODEL_ID,
    with the processor config (num_query_tokens) and the shipped chat template
    a chat server needs. Returns the cache folder."""
    hub = os.path.join(root, "hub")
    repo = os.path.join(hub, "models--" + MODEL_ID.replace("/", "--"))
    snapshot = os.path.join(repo, "snapshots", COMMIT)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    shutil.copytree(os.path.join(fixtures, "models", "tiny"), snapshot)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(COMMIT)
    with open(os.path.join(snapshot, "config.json")) as f:
        queries = json.load(f)["num_query_tokens"]
    with open(os.path.join(snapshot, "processor_config.json"), "w") as f:
        json.dump({"processor_class": "Blip2Processor", "num_query_tokens": queries}, f)
    shutil.copy(CHAT_TEMPLATE, os.path.join(snapshot, "chat_template.jinja"))
    return hub


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


class TransformersServer:
    """`transformers serve` on a free port of 127.0.0.1, serving MODEL_ID."""

    def __init__(self, hub, log_path, port=None):
        self.hub = hub
        self.log_path = log_path
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.process = None

    def start(self, timeout=180):
        env = dict(os.environ, HF_HUB_CACHE=self.hub, HF_HUB_OFFLINE="1",
                   TRANSFORMERS_VERBOSITY="error", OMP_NUM_THREADS="1")
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "serve_transformers.py"), MODEL_ID, str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"transformers serve exited ({self.process.returncode}); "
                                   f"see {self.log_path}")
            try:
                get_json(self.url + "/models", timeout=2)
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer within {timeout} s")

    def requests_seen(self):
        """The chat completion requests the server logged so far."""
        with open(self.log_path, errors="replace") as f:
            return f.read().count('"POST /v1/chat/completions HTTP/1.1"')

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class FaultServer:
    """/v1/models lists MODEL_ID; /v1/chat/completions answers as `mode` says:
    ("status", code, body) | ("garbage",) | ("hold",): held until release()
    (the client gives up first) | ("ok", text). Records every request."""

    def __init__(self, mode):
        self.mode = mode
        self.requests = []  # (path, headers dict, body bytes)
        self.released = threading.Event()
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, code, body, content_type="application/json"):
                data = body.encode() if isinstance(body, str) else body
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (a timeout test)

            def do_GET(self):
                with server.lock:
                    server.requests.append((self.path, dict(self.headers), b""))
                if self.path == "/v1/models":
                    self.reply(200, json.dumps({"object": "list", "data": [
                        {"id": MODEL_ID, "object": "model", "owned_by": "test"}]}))
                else:
                    self.reply(404, json.dumps({"detail": "Not Found"}))

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with server.lock:
                    server.requests.append((self.path, dict(self.headers), body))
                kind = server.mode[0]
                if kind == "status":
                    self.reply(server.mode[1], server.mode[2])
                elif kind == "garbage":
                    self.reply(200, "<html>this is not json", "text/html")
                elif kind == "hold":
                    server.released.wait(60)
                    self.reply(200, json.dumps({"choices": []}))
                else:
                    self.reply(200, json.dumps({"choices": [{"index": 0, "message": {
                        "role": "assistant", "content": server.mode[1]}}],
                        "usage": {"completion_tokens": 3}}))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def chat_requests(self):
        with self.lock:
            return [r for r in self.requests if r[0] == "/v1/chat/completions"]

    def release(self):
        self.released.set()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
