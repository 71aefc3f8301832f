"""Memory of one gunicorn web worker after 100 requests and after 10,000.

    .venv/bin/python benchmarks/memory.py                      # 10,000 requests
    .venv/bin/python benchmarks/memory.py --requests 2000      # a quicker look

One gunicorn master with one sync worker (gunicorn.conf.py, WEB_CONCURRENCY=1, GUNICORN_MAX_REQUESTS=0
so the worker is never recycled), DEBUG off, fresh keys, PostgreSQL database opbox_bench_memory seeded
with a workspace (an email integration, its Email Log of --rows rows, four more integrations, an ADMIN
token). One client sends a realistic mix in turn: the integrations list, stats, an integration's detail,
the first rows page, a later page through its cursor, a status filter and a search (each answered 200,
or the run stops). The worker's VmRSS (from /proc/<worker pid>/status, not the master's) is read at
checkpoints; the worker's pid is checked to be the same at the end.

Target: flat: at most 10% growth from 100 to 10,000 requests, and at most 2 MiB over the second half
(which is where a leak would show once the first requests have filled the caches).
"""

import argparse
import tempfile
from itertools import cycle
from pathlib import Path

import requests
from _common import (
    add_integrations,
    admin_token,
    database_url,
    fill,
    print_table,
    production_environ,
    rss_mib,
    setup_django,
    start_gunicorn,
    stop,
    verdict,
    worker_pids,
)

GROWTH_TARGET = 0.10  # of the RSS after 100 requests
SECOND_HALF_TARGET_MIB = 2.0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the Email Log")
    parser.add_argument("--database-url", default=database_url("opbox_bench_memory"))
    return parser.parse_args()


def request_mix(base: str, session: requests.Session, table, integration_id: str):
    """An endless mix of reads; later rows pages walk further back through the table's cursors."""
    rows = f"{base}/api/tables/{table.id}/rows"
    fixed = [
        f"{base}/api/integrations", f"{base}/api/integrations/stats", f"{base}/api/integrations/{integration_id}",
        rows, f"{rows}?status=failed", f"{rows}?q=example42", f"{rows}?source=Form%20Send&pageSize=20",
    ]  # fmt: skip
    next_page = rows
    for url in cycle(fixed + ["NEXT"]):
        walking = url == "NEXT"
        if walking:
            url = next_page
        response = session.get(url, timeout=60)
        if response.status_code != 200:
            raise SystemExit(f"GET {url.removeprefix(base)} answered {response.status_code}: {response.text[:300]}")
        if walking:
            next_page = response.json()["next"] or rows  # back to the newest page at the end of the table
        yield


def main():
    args = parse_args()
    environ = production_environ(args.database_url)
    setup_django(args.database_url, environ=environ, fresh=True)
    table = fill(args.rows)
    add_integrations(table.workspace, 4)
    token = admin_token(table.workspace)
    from django.db import connection

    connection.close()

    checkpoints = sorted({100, 1_000, args.requests // 4, args.requests // 2, 3 * args.requests // 4, args.requests})
    log_path = Path(tempfile.mkdtemp(prefix="opbox-bench-")) / "gunicorn.log"
    samples = {}
    server = None
    try:
        server, base = start_gunicorn(environ, workers=1, max_requests=0, log_path=log_path)
        (worker,) = worker_pids(server.pid)
        samples[0] = rss_mib(worker)  # after the health check: the app is loaded
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        mix = request_mix(base, session, table, table.integration_id)
        for done in range(1, args.requests + 1):
            next(mix)
            if done in checkpoints:
                samples[done] = rss_mib(worker)
        same_worker = worker_pids(server.pid) == [worker]
    finally:
        if server is not None:
            stop(server)

    first, last = samples[100], samples[args.requests]
    half = samples[args.requests // 2]
    growth, second_half = last - first, last - half
    print(f"\nOne gunicorn sync worker (pid {worker}, never recycled: {'yes' if same_worker else 'NO, it was replaced'}), "
          f"{args.requests:,} requests of the mix, VmRSS")  # fmt: skip
    print_table(
        ["after requests", "VmRSS MiB", "vs after 100"],
        [[f"{n:,}", f"{mib:.1f}", "" if n < 100 else f"{mib - first:+.1f} MiB"] for n, mib in samples.items()],
    )
    flat = growth <= GROWTH_TARGET * first and second_half <= SECOND_HALF_TARGET_MIB and same_worker
    print(f"\ngrowth 100 -> {args.requests:,}: {growth:+.1f} MiB ({growth / first:+.1%}), target <= {GROWTH_TARGET:.0%}")
    print(f"growth over the second half ({args.requests // 2:,} -> {args.requests:,}): {second_half:+.1f} MiB, "
          f"target <= {SECOND_HALF_TARGET_MIB:g} MiB")  # fmt: skip
    print(f"memory flat: {verdict(flat)}")


if __name__ == "__main__":
    main()
