"""What the benchmark scripts share: their PostgreSQL databases, the Email Log fill, the processes they
start (gunicorn, db_worker, the fake providers, wrk) and how they print figures.

Every database used here is named `opbox_bench*`, so a benchmark can never touch the test suites' ones.
"""

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

POSTGRES = "postgres://postgres@127.0.0.1:5432"
BLACKHOLE = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection is refused at once
# Every service stays on loopback: the integrations that add_integrations makes receive workspace events
# (deliveries) and may be checked, and a benchmark must never call out of the machine. The guard lets typed
# loopback URLs through for these runs only.
LOOPBACK_SERVICES = {
    **dict.fromkeys(("SLACK_API_URL", "HUBSPOT_API_URL", "GOOGLE_DRIVE_API_URL", "GOOGLE_OAUTH_TOKEN_URL"), BLACKHOLE),
    "OUTBOUND_ALLOW_PRIVATE_NETWORKS": "true",
}
QUIET_LOAD = 1.5  # a one-minute load average under this when a run starts: the machine is quiet
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"


# Databases ---------------------------------------------------------------------------------------


def database_url(name: str) -> str:
    return f"{POSTGRES}/{name}"


def _split(url: str) -> tuple[str, str]:
    server, name = url.rsplit("/", 1)
    if not name.startswith("opbox_bench"):
        # The suites own opbox, test_opbox and test: refuse anything that is not ours.
        raise SystemExit(f"benchmark databases must be named opbox_bench*, not {name!r}")
    return server, name


def create_database(url: str, *, fresh: bool = False) -> None:
    """Create the database if missing; with `fresh`, drop it first (connections still open are closed)."""
    import psycopg

    server, name = _split(url)
    with psycopg.connect(server + "/postgres", autocommit=True) as admin:
        if fresh:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')


def production_environ(url: str, **extra) -> dict:
    """The environment of a production-like process: DEBUG off, fresh random keys, no .env, PostgreSQL."""
    environ = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "OPBOX_ENV_FILE": "/nonexistent",  # the developer's .env must not leak into the figures
        "DJANGO_SETTINGS_MODULE": "opbox.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "OPBOX_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": url,
        "PYTHONPATH": str(ROOT),
        **LOOPBACK_SERVICES,
    }
    environ.update({key: str(value) for key, value in extra.items()})
    return environ


def setup_django(url: str, *, environ: dict | None = None, fresh: bool = False) -> None:
    """Create (or recreate) the database, configure Django in this process and apply the migrations.

    Without `environ` the test settings are used (fixed keys): right for in-process figures whose filled
    data should survive between runs. With it, this process shares the servers' settings and keys.
    """
    one, five, fifteen = os.getloadavg()
    quiet = "quiet" if one < QUIET_LOAD else f"NOT quiet (>= {QUIET_LOAD}): figures are the neighbours' as much as ours"
    print(f"load average at start: {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores: {quiet}")
    create_database(url, fresh=fresh)
    if environ is None:
        os.environ.update(LOOPBACK_SERVICES)
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opbox.settings_test")
    else:
        os.environ.update(environ)
    import django
    from django.core.management import call_command

    # Whitenoise warns that collectstatic never ran: no page here serves a static file.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    call_command("migrate", verbosity=0)


# Data --------------------------------------------------------------------------------------------


def fill(rows: int, slug: str = "bench"):
    """One workspace, its email integration (the site provider) and `rows` log rows one second apart
    (5% failed), written with COPY; returns the Email Log table. A table already holding `rows` rows is reused."""
    from datetime import datetime, timedelta

    from django.db import connection

    from email_logs.models import EmailLogEntry
    from integrations.services import create_integration
    from opbox.ids import new_public_id
    from tables.models import Table
    from workspaces.models import Workspace
    from workspaces.services import create_workspace

    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is not None:
        table = Table.objects.get(workspace=workspace)
        if EmailLogEntry.objects.filter(table=table).count() == rows:
            return table  # filled by an earlier run: reuse it
        EmailLogEntry.objects.filter(table=table).delete()
    else:
        workspace = create_workspace(slug, "Benchmark")
        create_integration(
            workspace, name="Bench Email", type="EMAIL_PROVIDER", config={"fromEmail": "noreply@bench.example"},
            credentials={"apiKey": "re_bench_key_0123456789"}, set_as_site_email_provider=True,
        )  # fmt: skip
        table = Table.objects.get(workspace=workspace)
    sources = ["Workflow Automation", "Matter Email Step", "Form Send", "Workflow Email"]
    start = datetime(2024, 1, 1, tzinfo=UTC)
    columns = "id, table_id, sent_at, created_at, \"to\", from_address, subject, status, provider, message_id, cc, bcc, template_id, source, error, attachment_count, attempts, integration_id, failure"
    began = time.perf_counter()
    with connection.cursor() as cursor, cursor.copy(f"COPY email_logs_emaillogentry ({columns}) FROM STDIN") as copy:
        for i in range(rows):
            failed = i % 20 == 0
            sent = start + timedelta(seconds=i)
            copy.write_row((
                new_public_id(), table.pk, sent, sent, f"client{i}@example{i % 997}.com", "noreply@bench.example",
                f"Matter {i % 5000} update {i}", "failed" if failed else "delivered", "email-provider-a",
                "" if failed else f"msg-{i}", "", "", "", sources[i % 4], "Mailbox unavailable" if failed else "", i % 3, 1, table.integration_id,
                "provider" if failed else "",
            ))  # fmt: skip
    if rows:
        # One rare recipient for the selective search.
        oldest = EmailLogEntry.objects.filter(table=table).order_by("sent_at").values("pk")[:1]
        EmailLogEntry.objects.filter(pk=oldest).update(to="ada@lovelace.example")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE email_logs_emaillogentry")
    print(f"filled {rows:,} rows in {time.perf_counter() - began:.1f} s")
    return table


def add_integrations(workspace, count: int) -> None:
    """`count` more integrations of the non-email types, round robin, each with a credential; every URL they
    reach is the loopback discard port (see production_environ)."""
    from integrations.services import create_integration

    kinds = [
        ("WEBHOOK", {"url": f"{BLACKHOLE}/in"}, {"secret": "whsec_bench_0123456789"}),
        ("SLACK", {"channel": "#alerts", "webhookUrl": f"{BLACKHOLE}/slack"}, {"botToken": "xoxb-bench-012345"}),
        ("DOCUMENT_ENGINE", {"baseUrl": BLACKHOLE}, {"apiKey": "doc_bench_0123456789"}),
        ("CRM_PLATFORM", {"portalId": "12345"}, {"accessToken": "crm_bench_0123456789"}),
        ("CLOUD_STORAGE", {"rootFolderId": "root"}, {"accessToken": "cs_a_0123456789", "refreshToken": "cs_r_0123456789"}),
    ]
    for n in range(count):
        kind, config, credentials = kinds[n % len(kinds)]
        create_integration(workspace, name=f"{kind.title()} {n}", type=kind, config=config, credentials=credentials)


def admin_token(workspace, email: str = "admin@bench.example") -> str:
    """A new API token of an ADMIN of the workspace (ADMIN reads every endpoint, detail included)."""
    from workspaces.services import add_member, create_token

    add_member(workspace, email, "ADMIN")
    return create_token(workspace, email, name="benchmark")


# Processes ---------------------------------------------------------------------------------------


def emails_in_flight() -> bool:
    """Whether any email is still on its way: an outbox record left, or a row not yet delivered/failed."""
    from email_logs.models import EmailLogEntry, EmailStatus, OutboundEmail

    return OutboundEmail.objects.exists() or EmailLogEntry.objects.filter(status=EmailStatus.QUEUED).exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{process.args[2:5]} exited with {process.returncode} before answering {url}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"nothing answered {url} within {timeout:g} s")


def start(command: list[str], environ: dict, log_path: Path | None = None) -> subprocess.Popen:
    """Start a child in its own session (so stop() can end it and its children, and nothing else)."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    finally:
        if log_path:
            log.close()  # the child holds its own copy


def start_gunicorn(environ: dict, *, workers: int, log_path: Path, max_requests: int | None = None,
                   settings: str = "opbox.settings") -> tuple[subprocess.Popen, str]:  # fmt: skip
    """gunicorn with the repo's gunicorn.conf.py on a free loopback port; returns (master, base URL).

    The access log (stdout) is discarded; errors and the app's log lines go to `log_path`.
    """
    port = free_port()
    extra = {"BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": workers, "DJANGO_SETTINGS_MODULE": settings}
    if max_requests is not None:
        extra["GUNICORN_MAX_REQUESTS"] = max_requests
    environ = {**environ, **{key: str(value) for key, value in extra.items()}}
    master = start([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "opbox.wsgi"], environ, log_path)
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/healthz", process=master)
    return master, base


def start_fake_provider(log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    """scripts/fake_providers.py (a ThreadingHTTPServer) in its own process; returns (process, base URL)."""
    port = free_port()
    process = start([sys.executable, "scripts/fake_providers.py", "--port", str(port)], dict(os.environ), log_path)
    base = f"http://127.0.0.1:{port}"
    wait_for(f"{base}/_sent", process=process)
    return process, base


def start_db_workers(environ: dict, count: int, log_path: Path, interval: float = 0.1) -> list[subprocess.Popen]:
    """`count` `manage.py db_worker` processes (django-tasks-db), as production runs them side by side."""
    command = [sys.executable, "manage.py", "db_worker", "--interval", str(interval), "--no-startup-delay", "--verbosity", "0"]
    return [start(command, environ, log_path) for _ in range(count)]


def stop(*processes: subprocess.Popen) -> None:
    """SIGTERM each process we started (gunicorn stops its own workers), then SIGKILL its session if it lingers."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: only what it started
            process.wait(timeout=10)


def worker_pids(master_pid: int) -> list[int]:
    """The children of a gunicorn master (its workers), from /proc."""
    with open(f"/proc/{master_pid}/task/{master_pid}/children") as children:
        return [int(pid) for pid in children.read().split()]


def rss_mib(pid: int) -> float:
    """VmRSS of a process, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def run_wrk(url: str, token: str | None, *, connections: int, seconds: float, threads: int = 2,
            method: str = "", body: str = "") -> dict:  # fmt: skip
    """One wrk run; returns the figures its `done` hook prints (latencies in ms, errors by kind).

    The token reaches wrk through its environment, not its command line (which `ps` shows to everyone).
    """
    threads = min(threads, connections)
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "--latency",
               "-s", str(WRK_SCRIPT), url]  # fmt: skip
    environ = {**os.environ, "BENCH_TOKEN": token or "", "BENCH_METHOD": method, "BENCH_BODY": body}
    result = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=seconds + 60)
    line = next((line for line in result.stdout.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no figures: {result.stdout[-1000:]} {result.stderr[-1000:]}")
    figures = json.loads(line[len("BENCH ") :])
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    for name in ("p50", "p90", "p99", "max"):
        figures[name] = figures.pop(f"{name}_us") / 1000
    figures["errors"] = sum(figures[kind] for kind in ("connect", "read", "write", "status", "timeout"))
    return figures


# Figures -----------------------------------------------------------------------------------------


def percentile(samples: list[float], pct: float) -> float:
    """The nearest-rank percentile of `samples` (0 for none)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))]


def verdict(passed: bool) -> str:
    return "PASS" if passed else "MISS"


def print_table(headers: list[str], rows: list[list]) -> None:
    """A plain aligned table: text left, numbers right."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "").rstrip("x%"))
        return True
    except ValueError:
        return not text  # blank cells do not make a column textual
