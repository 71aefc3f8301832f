"""Real worker processes and a real local receiver, for the tests of what only a worker shows: retries by
`run_after`, a worker SIGKILLed mid-delivery, one integration's 429s beside another's deliveries."""

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """An HTTP server on 127.0.0.1 recording each request (monotonic time, path, webhook-id); `answer(path, n)`
    (n: that path's 1-based request count) returns (status, headers) or sleeps to play a slow endpoint."""

    def __init__(self, answer):
        self.requests: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append((time.monotonic(), self.path, self.headers.get("webhook-id", "")))
                    count = sum(1 for _, path, _ in receiver.requests if path == self.path)
                status, headers = answer(self.path, count)
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the caller is gone (killed)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, path: str) -> list[tuple[float, str]]:
        with self.lock:
            return [(at, webhook_id) for at, p, webhook_id in self.requests if p == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def worker_env(**overrides) -> dict:
    """The environment of a worker on the test database (PostgreSQL), with the database task backend."""
    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "opbox.settings_test", "TASKS_BACKEND": "database",
        "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true", "DELIVERY_LEASE_SECONDS": "3", "DELIVERY_SWEEP_SECONDS": "1",
        "DELIVERY_RETRY_SCHEDULE": "0,1,2",
    }  # fmt: skip
    if database.get("PASSWORD"):
        env["PGPASSWORD"] = database["PASSWORD"]
    env.update({name: str(value) for name, value in overrides.items()})
    return env


@contextmanager
def worker(**overrides):
    """A `manage.py db_worker` process for the block (stopped after it, unless the test killed it)."""
    process = subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--interval", "0.05", "--no-startup-delay", "--no-reload", "--verbosity", "0"],
        cwd=ROOT, env=worker_env(**overrides), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"Not within {seconds} s: {what}")
