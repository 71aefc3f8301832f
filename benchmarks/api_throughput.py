"""API throughput and latency under gunicorn on loopback, each endpoint beside a bare Django view.

    .venv/bin/python benchmarks/api_throughput.py                  # 32 connections, 10 s per endpoint
    .venv/bin/python benchmarks/api_throughput.py --duration 3     # a quicker look

Starts gunicorn (gunicorn.conf.py, DEBUG off, fresh keys, PostgreSQL database opbox_bench_api) with
benchmarks.bench_settings, which adds `/bench/bare`: a plain view returning a constant JSON body through
the same middleware. Seeds one workspace (an email integration with an Email Log of --rows rows, a few
other integrations, an ADMIN token), then runs wrk against the bare view, GET /api/integrations,
/api/integrations/stats, /api/integrations/<id>, /api/tables/<id>/rows, in one run of one server, with a
bare-view run between every two: each ratio is against the bare runs just before and after it. Two more
reference views (a DRF view without and with token authentication, same body) show where the time goes.

Targets: every endpoint >= 0.7x the bare view's requests/second; p99 < 50 ms at 32 connections.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import requests
from _common import (
    add_integrations,
    admin_token,
    database_url,
    fill,
    print_table,
    production_environ,
    run_wrk,
    setup_django,
    start_gunicorn,
    stop,
    verdict,
)

RATIO_TARGET = 0.7
P99_TARGET_MS = 50
# Not targets: they split an endpoint's cost into DRF itself, token authentication, and its own work.
REFERENCES = [("ref: DRF view, no auth", "/bench/drf", None), ("ref: DRF view + token auth", "/bench/drf-auth", None)]


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of wrk per endpoint before measuring")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) * 2 + 1,
                        help="gunicorn workers (default: gunicorn.conf.py's 2 x cores + 1)")  # fmt: skip
    parser.add_argument("--rows", type=int, default=100_000, help="rows in the Email Log")
    parser.add_argument("--integrations", type=int, default=5, help="integrations in the workspace")
    parser.add_argument("--database-url", default=database_url("opbox_bench_api"))
    return parser.parse_args()


def seed(args) -> tuple[str, dict[str, str]]:
    """The workspace and its token; returns (token, {label: path})."""
    table = fill(args.rows)
    add_integrations(table.workspace, max(0, args.integrations - 1))
    token = admin_token(table.workspace)
    paths = {
        "GET /api/integrations": "/api/integrations",
        "GET /api/integrations/stats": "/api/integrations/stats",
        "GET /api/integrations/<id>": f"/api/integrations/{table.integration_id}",
        "GET /api/tables/<id>/rows": f"/api/tables/{table.id}/rows",
    }
    return token, paths


def check_answers(base: str, token: str, paths: dict[str, str]) -> None:
    """Every endpoint answers 200 before it is measured (a fast 4xx would be a meaningless figure)."""
    headers = {"Authorization": f"Bearer {token}"}
    for label, path in paths.items():
        response = requests.get(base + path, headers=headers, timeout=30)
        if response.status_code != 200:
            raise SystemExit(f"{label} answered {response.status_code}: {response.text[:300]}")
    rows = requests.get(base + paths["GET /api/tables/<id>/rows"], headers=headers, timeout=30).json()
    print(f"rows page holds {len(rows['results'])} rows; next page: {'yes' if rows['next'] else 'no'}")


def in_process_ms(paths: list[str], token: str, repeat: int = 500) -> dict[str, float]:
    """The mean ms per request of each path, called straight through Django's WSGI
    handler in this one process: no HTTP, no concurrency, so it is each view's own cost."""
    from wsgiref.util import setup_testing_defaults

    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()

    def get(path):
        environ = {"PATH_INFO": path, "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_HOST": "127.0.0.1"}
        setup_testing_defaults(environ)
        answer = []
        body = application(environ, lambda status, headers, exc_info=None: answer.append(status))
        b"".join(body)
        body.close()
        if not answer[0].startswith("200"):
            raise SystemExit(f"{path} answered {answer[0]} in process")

    costs = {}
    for path in paths:
        for _ in range(repeat // 10):  # warm: first queries, caches
            get(path)
        began = time.perf_counter()
        for _ in range(repeat):
            get(path)
        costs[path] = (time.perf_counter() - began) / repeat * 1000
    return costs


def main():
    args = parse_args()
    environ = production_environ(args.database_url, DJANGO_SETTINGS_MODULE="benchmarks.bench_settings")
    setup_django(args.database_url, environ=environ, fresh=True)
    token, paths = seed(args)
    subjects = [(label, path, token) for label, path in paths.items()] + [REFERENCES[0], (*REFERENCES[1][:2], token)]
    costs = in_process_ms(["/bench/bare"] + [path for _, path, _ in subjects], token)
    from django.db import connection

    connection.close()  # the servers are the only clients during the runs

    log_path = Path(tempfile.mkdtemp(prefix="opbox-bench-")) / "gunicorn.log"
    server = None
    try:
        server, base = start_gunicorn(environ, workers=args.workers, log_path=log_path, settings="benchmarks.bench_settings")
        check_answers(base, token, {**paths, REFERENCES[1][0]: REFERENCES[1][1]})

        def measure(path, run_token):
            figures = run_wrk(base + path, run_token, connections=args.connections, seconds=args.duration)
            time.sleep(1)  # let the last connections of one run close before the next
            return figures

        for _, path, run_token in [("bare", "/bench/bare", None), *subjects]:
            if args.warmup:
                run_wrk(base + path, run_token, connections=args.connections, seconds=args.warmup)
        print(f"\nwrk: {args.connections} connections, {args.duration} s each, gunicorn {args.workers} sync workers, "
              f"{os.cpu_count()} cores shared by wrk, gunicorn, PostgreSQL and whatever else runs")  # fmt: skip
        # Bare runs between the subjects: each ratio is against the bare runs just before and after it,
        # so a neighbour's load changing during the run moves both sides of a ratio together.
        bare_runs = [measure("/bench/bare", None)]
        results = []
        for label, path, run_token in subjects:
            figures = measure(path, run_token)
            bare_runs.append(measure("/bench/bare", None))
            results.append((label, path, figures, (bare_runs[-2]["rps"] + bare_runs[-1]["rps"]) / 2))
    finally:
        if server is not None:
            stop(server)

    table, misses, errors = [], 0, sum(f["errors"] for f in bare_runs)
    for label, path, f, bare in results:
        ratio = f["rps"] / bare
        checks = []
        if label.startswith("GET "):
            checks = [ratio >= RATIO_TARGET, f["p99"] < P99_TARGET_MS]
            misses += checks.count(False)
        errors += f["errors"]
        table.append([
            label, f"{f['rps']:,.0f}", f"{f['p50']:.1f}", f"{f['p99']:.1f}", f"{f['requests']:,}", f["status"],
            f["connect"] + f["read"] + f["write"] + f["timeout"], f"{bare:,.0f}", f"{ratio:.2f}x",
            verdict(checks[0]) if checks else "", verdict(checks[1]) if checks else "", f"{costs[path]:.2f}",
        ])  # fmt: skip
    bare_all = [f["rps"] for f in bare_runs]
    table.append([
        f"bare view ({len(bare_runs)} runs)", f"{sum(bare_all) / len(bare_all):,.0f}",
        f"{sorted(f['p50'] for f in bare_runs)[len(bare_runs) // 2]:.1f}", f"{max(f['p99'] for f in bare_runs):.1f}",
        f"{sum(f['requests'] for f in bare_runs):,}", sum(f["status"] for f in bare_runs),
        sum(f["connect"] + f["read"] + f["write"] + f["timeout"] for f in bare_runs), "", "", "", "",
        f"{costs['/bench/bare']:.2f}",
    ])  # fmt: skip
    print()
    print_table(
        ["endpoint", "req/s", "p50 ms", "p99 ms", "requests", "HTTP>=400", "socket err", "bare req/s", "vs bare",
         f">= {RATIO_TARGET}x", f"p99 < {P99_TARGET_MS}", "1-process ms"],
        table,
    )  # fmt: skip
    print("\n1-process ms: the mean cost of one request called straight through Django's WSGI handler in one process")
    print("(no HTTP, no concurrency): what each view costs on its own, measured before the server started.")
    bare_p99 = ", ".join(f"{f['p99']:.0f}" for f in bare_runs)
    print(f"bare runs, req/s: {', '.join(f'{rps:,.0f}' for rps in bare_all)}; p99 ms: {bare_p99}")
    log_lines = log_path.read_text(errors="replace").splitlines()
    server_errors = [line for line in log_lines if " ERROR " in line or "Traceback" in line]
    print(f"HTTP >= 400 answers and socket errors: {errors}; server log errors: {len(server_errors)} ({log_path})")
    for line in server_errors[:5]:
        print("  ", line[:200])
    print(f"\n{'all targets met' if not misses and not errors else f'{misses} target(s) missed, {errors} error(s)'}")


if __name__ == "__main__":
    main()
