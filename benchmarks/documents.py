"""Rendering documents through `POST /api/documents` against the local fake Carbone, beside a plain loop.

    .venv/bin/python benchmarks/documents.py                    # 1,000 renders, then a 20 MiB document
    .venv/bin/python benchmarks/documents.py --documents 200    # a quicker look

One gunicorn master with one sync worker (gunicorn.conf.py, WEB_CONCURRENCY=1, GUNICORN_MAX_REQUESTS=0 so the
worker is never recycled), DEBUG off, fresh keys, PostgreSQL database opbox_bench_documents, documents stored in
a fresh temporary folder (STORAGES["documents"] through DOCUMENT_STORAGE_ROOT). scripts/fake_providers.py, in its
own process, plays Carbone: each render is answered at once with a 100 KiB file.

- API: one client (a keep-alive session) posts --documents renders, one after another, after an uncounted warm-up;
  every answer must be a 201 of a generated row of 102,400 bytes.
- Plain loop: the same Carbone calls (`requests`, the same session kind, JSON body, `?download=true`) and the same
  file writes (one file per document, read from the answer a chunk at a time) in one process, no Django: what
  rendering costs without the app. Beside it (not a target), the same loop with one autocommitted INSERT per
  document through psycopg: the floor of a render that is also logged in PostgreSQL.
- The web worker's VmRSS (from /proc/<worker pid>/status) before and after the renders.
- A 20 MiB document: rendered through the API (Carbone's answer streamed to storage), then downloaded by a client
  reading 64 KiB at a time; the worker's peak RSS during each, sampled every 5 ms, against its RSS before.

Targets: API >= 0.7x the plain loop's documents/s; RSS growth over the renders < 20 MiB; the 20 MiB document
streamed to the client with < 5 MiB of RSS growth.
"""

import argparse
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import (
    admin_token,
    database_url,
    print_table,
    production_environ,
    rss_mib,
    setup_django,
    start_fake_provider,
    start_gunicorn,
    stop,
    verdict,
    worker_pids,
)

SPEED_TARGET = 0.7
RSS_TARGET_MIB = 20.0
STREAM_TARGET_MIB = 5.0
DOCUMENT_BYTES = 100 * 1024
LARGE_BYTES = 20 * 1024 * 1024
WARM_UP = 20


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1_000)
    parser.add_argument("--database-url", default=database_url("opbox_bench_documents"))
    return parser.parse_args()


def load() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


class PeakRss:
    """The highest VmRSS of a process while the block runs, sampled every 5 ms in a thread."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()

    def __enter__(self):
        self.before = rss_mib(self.pid)
        self.peak = self.before
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib(self.pid))

    @property
    def growth(self) -> float:
        return self.peak - self.before


def render_through_api(session, base, count, template_id="tpl-invoice", expected=DOCUMENT_BYTES) -> list[str]:
    ids = []
    for n in range(count):
        response = session.post(f"{base}/api/documents", json={"templateId": template_id, "data": {"n": n}, "filename": f"invoice-{n}.pdf"}, timeout=120)
        if response.status_code != 201 or response.json()["values"]["Size"] != expected:
            raise SystemExit(f"POST /api/documents answered {response.status_code}: {response.text[:300]}")
        ids.append(response.json()["id"])
    return ids


def plain_loop(carbone_url: str, folder: Path, count: int, database_url: str = "") -> float:
    """The same Carbone calls and file writes, without the app; returns the seconds taken. With `database_url`,
    also one autocommitted INSERT of a row per document (psycopg, no ORM): the floor of a logged render."""
    import psycopg

    database = psycopg.connect(database_url, autocommit=True) if database_url else None
    if database is not None:
        database.execute("CREATE TABLE IF NOT EXISTS bench_document_floor (id text PRIMARY KEY, filename text, size bigint)")
    session = requests.Session()
    session.headers["Authorization"] = "Bearer carbone-bench-key"
    folder.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    for n in range(count):
        with session.post(f"{carbone_url}/render/tpl-invoice", params={"download": "true"}, json={"data": {"n": n}, "convertTo": "pdf"},
                          headers={"carbone-version": "5"}, stream=True, timeout=120) as response:  # fmt: skip
            response.raise_for_status()
            with open(folder / f"invoice-{n}.pdf", "wb") as file:
                size = 0
                for chunk in response.iter_content(64 * 1024):
                    size += file.write(chunk)
        if database is not None:
            database.execute("INSERT INTO bench_document_floor VALUES (%s, %s, %s)", [f"{folder.name}-{n}", f"invoice-{n}.pdf", size])
    seconds = time.perf_counter() - began
    if database is not None:
        database.close()
    return seconds


def main():
    args = parse_args()
    storage = Path(tempfile.mkdtemp(prefix="opbox-bench-documents-"))
    log_path = storage / "gunicorn.log"
    processes = []
    try:
        fake, fake_url = start_fake_provider(storage / "fake.log")
        processes.append(fake)
        environ = production_environ(
            args.database_url, OUTBOUND_ALLOW_PRIVATE_NETWORKS="true", DOCUMENT_STORAGE_ROOT=storage / "documents",
            DOCUMENT_MAX_BYTES=32 * 1024 * 1024,
        )  # fmt: skip
        os.environ["OUTBOUND_ALLOW_PRIVATE_NETWORKS"] = "true"
        setup_django(args.database_url, environ=environ, fresh=True)
        from integrations.services import create_integration
        from workspaces.services import create_workspace

        workspace = create_workspace("bench", "Bench Legal")
        create_integration(workspace, name="Carbone", type="DOCUMENT_ENGINE", config={"baseUrl": f"{fake_url}/carbone"},
                           credentials={"apiKey": "carbone-bench-key"})  # fmt: skip
        token = admin_token(workspace)
        from django.db import connection

        connection.close()

        server, base = start_gunicorn(environ, workers=1, max_requests=0, log_path=log_path)
        processes.append(server)
        (worker,) = worker_pids(server.pid)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        load_before = load()

        render_through_api(session, base, WARM_UP)
        rss_before = rss_mib(worker)
        began = time.perf_counter()
        render_through_api(session, base, args.documents)
        api_seconds = time.perf_counter() - began
        rss_after = rss_mib(worker)

        plain_seconds = plain_loop(f"{fake_url}/carbone", storage / "plain", args.documents)
        floor_seconds = plain_loop(f"{fake_url}/carbone", storage / "floor", args.documents, args.database_url)

        with PeakRss(worker) as rendering:
            (large,) = render_through_api(session, base, 1, template_id=f"bytes-{LARGE_BYTES}", expected=LARGE_BYTES)
        with PeakRss(worker) as streaming:
            received = 0
            with session.get(f"{base}/api/documents/{large}/file", stream=True, timeout=120) as response:
                response.raise_for_status()
                for chunk in response.iter_content(64 * 1024):
                    received += len(chunk)
                    time.sleep(0.0005)  # a client slower than loopback: the worker must not read ahead
        if received != LARGE_BYTES:
            raise SystemExit(f"downloaded {received:,} bytes of {LARGE_BYTES:,}")
        same_worker = worker_pids(server.pid) == [worker]
        load_after = load()
    finally:
        stop(*reversed(processes))
        shutil.rmtree(storage, ignore_errors=True)

    api_rate, plain_rate = args.documents / api_seconds, args.documents / plain_seconds
    ratio = api_rate / plain_rate
    growth = rss_after - rss_before
    print(f"\n{args.documents:,} documents of 100 KiB, one client, one gunicorn sync worker (pid {worker}, "
          f"never recycled: {'yes' if same_worker else 'NO'}); load average {load_before} before, {load_after} after "
          f"(2 cores shared with other work)")  # fmt: skip
    print_table(
        ["measure", "figure", "target", "verdict"],
        [
            ["POST /api/documents, docs/s", f"{api_rate:.1f}", "", ""],
            ["plain loop (calls + file writes), docs/s", f"{plain_rate:.1f}", "", ""],
            ["API / plain loop", f"{ratio:.2f}x", f">= {SPEED_TARGET}x", verdict(ratio >= SPEED_TARGET)],
            ["plain loop + one INSERT per document, docs/s", f"{args.documents / floor_seconds:.1f}", "", ""],
            ["API / (plain loop + INSERT)", f"{api_rate / (args.documents / floor_seconds):.2f}x", "", ""],
            ["worker VmRSS before renders, MiB", f"{rss_before:.1f}", "", ""],
            ["worker VmRSS after renders, MiB", f"{rss_after:.1f}", "", ""],
            ["RSS growth over the renders, MiB", f"{growth:+.1f}", f"< {RSS_TARGET_MIB:g}", verdict(growth < RSS_TARGET_MIB)],
            ["20 MiB render: peak RSS growth, MiB", f"{rendering.growth:+.1f}", "", ""],
            ["20 MiB download: peak RSS growth, MiB", f"{streaming.growth:+.1f}", f"< {STREAM_TARGET_MIB:g}",
             verdict(streaming.growth < STREAM_TARGET_MIB)],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
