"""API throughput and latency under gunicorn on loopback, each endpoint beside its floor and a bare Django view.

    sudo apt-get install wrk                                       # once (Debian's package): the load generator
    .venv/bin/python benchmarks/api_throughput.py                  # 32 connections, 10 s per run (~4 min)
    .venv/bin/python benchmarks/api_throughput.py --duration 2 --rows 2000   # a quicker look

Starts gunicorn (gunicorn.conf.py, DEBUG off, fresh keys, PostgreSQL database opbox_bench_api) with
benchmarks.bench_settings, which adds the reference views of bench_urls.py: `/bench/bare` (a plain view
returning a constant JSON body through the same middleware) and, per endpoint, a floor view (the token check
as one query, the endpoint's SQL through a raw cursor, `json.dumps` of the same answer, checked equal here
first). Seeds one workspace (an email integration with an Email Log of --rows rows, a few other
integrations, an ADMIN token), then runs wrk against GET /api/integrations, /api/integrations/stats,
/api/integrations/<id>, /api/tables/<id>/rows, each followed by its floor and a bare run, in one run of one
server: each ratio is against the runs right beside it, so a neighbour's load moves both sides together.
Two more references (a DRF view without and with token authentication) show where the time goes.

Targets: every endpoint >= 0.9x its floor's requests/second and >= 0.35x the bare view's; in process (one
request through Django's WSGI handler, no HTTP) <= 1.0 ms for list, stats and detail and <= 2.5 ms for a
50-row page; p99 < 50 ms at 32 connections.

The in-process costs are measured twice, with prepared statements off and on (settings.py's
DATABASE_PREPARED_STATEMENTS: psycopg's server-side binding with prepare_threshold 5), beside PostgreSQL's
planning time of the token check planned afresh and as a prepared statement; the server runs with them on.
"""

import argparse
import os
import re
import shutil
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

FLOOR_TARGET = 0.9  # x the floor view's req/s
BARE_TARGET = 0.35  # x the bare view's req/s
P99_TARGET_MS = 50
IN_PROCESS_TARGET_MS = {"GET /api/tables/<id>/rows": 2.5}  # every other endpoint: 1.0
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
    """The workspace and its token; returns (token, {label: path}), the floors' paths under FLOORS[label]."""
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


def floor_of(path: str) -> str:
    """The floor view of an endpoint's path (bench_urls.py)."""
    return "/bench/floor/" + path.removeprefix("/api/")


def check_answers(base: str, token: str, paths: dict[str, str]) -> None:
    """Every endpoint answers 200 before it is measured (a fast 4xx would be a meaningless figure), and each
    floor view exactly what its endpoint answers (else the ratio would compare different work)."""
    headers = {"Authorization": f"Bearer {token}"}
    for label, path in paths.items():
        response = requests.get(base + path, headers=headers, timeout=30)
        if response.status_code != 200:
            raise SystemExit(f"{label} answered {response.status_code}: {response.text[:300]}")
        if path.startswith("/api/"):
            floor = requests.get(base + floor_of(path), headers=headers, timeout=30)
            if floor.status_code != 200 or floor.json() != response.json():
                raise SystemExit(f"the floor of {label} answers differently:\n{floor.text[:500]}\n{response.text[:500]}")
    rows = requests.get(base + paths["GET /api/tables/<id>/rows"], headers=headers, timeout=30).json()
    print(f"rows page holds {len(rows['results'])} rows; next page: {'yes' if rows['next'] else 'no'}")


def in_process_ms(paths: list[str], token: str, repeat: int = 500, rounds: int = 5) -> dict[str, float]:
    """The ms per request of each path, called straight through Django's WSGI handler in this one process:
    no HTTP, no concurrency, so it is each view's own cost. The paths take turns, `rounds` times
    `repeat / rounds` requests each, and each keeps its best round: a neighbour's burst of load slows a
    round, never speeds one up."""
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

    per_round = max(1, repeat // rounds)
    for path in paths:
        for _ in range(per_round // 5 + 1):  # warm: first queries, compiled queries, caches
            get(path)
    costs = {path: float("inf") for path in paths}
    for _ in range(rounds):
        for path in paths:
            began = time.perf_counter()
            for _ in range(per_round):
                get(path)
            costs[path] = min(costs[path], (time.perf_counter() - began) / per_round * 1000)
    return costs


def prepared_statements(enabled: bool) -> None:
    """Reconnect this process's database connection with prepared statements on or off."""
    from django.db import connection

    connection.close()
    options = connection.settings_dict["OPTIONS"]
    options.pop("server_side_binding", None)
    options.pop("prepare_threshold", None)
    if enabled:
        options.update(server_side_binding=True, prepare_threshold=5)


def token_planning_ms(token: str, runs: int = 20) -> tuple[float, float]:
    """PostgreSQL's planning time of the token check, in ms: planned afresh as every request did without
    prepared statements, and as a prepared statement once its plan is cached (the median of `runs`)."""
    import psycopg
    from django.db import connection

    from workspaces.models import LOOKUP_LENGTH, TOKEN_PREFIX, ApiToken

    lookup = token[len(TOKEN_PREFIX) :][:LOOKUP_LENGTH]
    queryset = ApiToken.objects.active().filter(lookup=lookup, membership__user__is_active=True)
    queryset = queryset.select_related("membership__user", "membership__workspace")
    sql, params = queryset.query.sql_with_params()
    numbered = iter(range(1, len(params) + 1))
    prepared_sql = re.sub("%s", lambda _: f"${next(numbered)}", sql).replace("%%", "%")
    settings = connection.settings_dict
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
                         dbname=settings["NAME"], autocommit=True) as raw:  # fmt: skip
        cursor = psycopg.ClientCursor(raw)

        def planning(statement: str) -> float:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", params)
            return cursor.fetchone()[0][0]["Planning Time"]

        fresh = sorted(planning(sql) for _ in range(runs))[runs // 2]
        cursor.execute(f"PREPARE bench_token_check AS {prepared_sql}")
        execute = f"EXECUTE bench_token_check({', '.join(['%s'] * len(params))})"
        cached = sorted(planning(execute) for _ in range(runs))[runs // 2]
    return fresh, cached


def main():
    args = parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: install Debian's package (sudo apt-get install wrk), then run this again.")
    environ = production_environ(args.database_url, DJANGO_SETTINGS_MODULE="benchmarks.bench_settings")
    setup_django(args.database_url, environ=environ, fresh=True)
    token, paths = seed(args)
    endpoints = list(paths.items())
    references = [REFERENCES[0], (*REFERENCES[1][:2], token)]
    measured = ["/bench/bare"] + [p for _, path in endpoints for p in (path, floor_of(path))] + [path for _, path, _ in references]
    prepared_statements(False)
    unprepared = in_process_ms(measured, token)
    prepared_statements(True)
    costs = in_process_ms(measured, token)
    planning = token_planning_ms(token)
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

        if args.warmup:
            warm = [("/bench/bare", None), *((p, token) for _, path in endpoints for p in (path, floor_of(path)))]
            for warm_path, run_token in warm:
                run_wrk(base + warm_path, run_token, connections=args.connections, seconds=args.warmup)
        print(f"\nwrk: {args.connections} connections, {args.duration} s each, gunicorn {args.workers} sync workers, "
              f"{os.cpu_count()} cores shared by wrk, gunicorn, PostgreSQL and whatever else runs")  # fmt: skip
        # Each endpoint, then its floor, then a bare run: every ratio is against the runs right beside it.
        bare_runs = [measure("/bench/bare", None)]
        results = []
        for label, path in endpoints:
            figures, floor = measure(path, token), measure(floor_of(path), token)
            bare_runs.append(measure("/bench/bare", None))
            results.append((label, path, figures, floor, (bare_runs[-2]["rps"] + bare_runs[-1]["rps"]) / 2))
        reference_runs = [(label, path, measure(path, run_token)) for label, path, run_token in references]
    finally:
        if server is not None:
            stop(server)
    report(results, reference_runs, bare_runs, costs, log_path)
    report_prepared(endpoints, references, unprepared, costs, planning)


def report_prepared(endpoints, references, unprepared, prepared, planning) -> None:
    print("\nPrepared statements (in process, ms per request; the table above is with them on):")
    rows = [[label, f"{unprepared[path]:.2f}", f"{prepared[path]:.2f}", f"{prepared[path] / unprepared[path]:.2f}x"]
            for label, path in [*endpoints, *((label, path) for label, path, _ in references)]]  # fmt: skip
    print_table(["request", "off", "on", "on / off"], rows)
    fresh, cached = planning
    print(f"planning time of the token check in PostgreSQL: {fresh:.3f} ms planned afresh, {cached:.3f} ms prepared")


def _errors(f) -> int:
    return f["connect"] + f["read"] + f["write"] + f["timeout"]


def report(results, reference_runs, bare_runs, costs, log_path) -> None:
    table, misses, errors = [], 0, sum(f["errors"] for f in bare_runs)
    for label, path, f, floor, bare in results:
        limit = IN_PROCESS_TARGET_MS.get(label, 1.0)
        checks = [f["rps"] >= FLOOR_TARGET * floor["rps"], f["rps"] >= BARE_TARGET * bare, costs[path] <= limit, f["p99"] < P99_TARGET_MS]
        misses += checks.count(False)
        errors += f["errors"] + floor["errors"]
        table.append([
            label, f"{f['rps']:,.0f}", f"{f['p50']:.1f}", f"{f['p99']:.1f}", f["status"], _errors(f),
            f"{floor['rps']:,.0f}", f"{f['rps'] / floor['rps']:.2f}x", f"{bare:,.0f}", f"{f['rps'] / bare:.2f}x",
            f"{costs[path]:.2f}", f"{costs[floor_of(path)]:.2f}", " ".join(verdict(c) for c in checks),
        ])  # fmt: skip
    bare_all = [f["rps"] for f in bare_runs]
    bare_mean = sum(bare_all) / len(bare_all)
    for label, path, f in reference_runs:
        errors += f["errors"]
        table.append([
            label, f"{f['rps']:,.0f}", f"{f['p50']:.1f}", f"{f['p99']:.1f}", f["status"], _errors(f), "", "", f"{bare_mean:,.0f}",
            f"{f['rps'] / bare_mean:.2f}x", f"{costs[path]:.2f}", "", "",
        ])  # fmt: skip
    table.append([
        f"bare view ({len(bare_runs)} runs)", f"{bare_mean:,.0f}",
        f"{sorted(f['p50'] for f in bare_runs)[len(bare_runs) // 2]:.1f}", f"{max(f['p99'] for f in bare_runs):.1f}",
        sum(f["status"] for f in bare_runs), sum(_errors(f) for f in bare_runs), "", "", "", "", f"{costs['/bench/bare']:.2f}", "", "",
    ])  # fmt: skip
    print()
    print_table(
        ["endpoint", "req/s", "p50 ms", "p99 ms", "HTTP>=400", "socket err", "floor req/s", "vs floor", "bare req/s",
         "vs bare", "1-process ms", "floor ms", f">={FLOOR_TARGET}x floor, >={BARE_TARGET}x bare, ms, p99"],
        table,
    )  # fmt: skip
    print(f"\nTargets: req/s >= {FLOOR_TARGET}x the floor's and >= 0.35x the bare view's (runs side by side); 1-process ms <= 1.0")
    print("(<= 2.5 for the 50-row page); p99 < 50 ms. 1-process ms: the mean cost of one request called straight")
    print("through Django's WSGI handler in one process (no HTTP, no concurrency; the best of 5 rounds), before the server started.")
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
