"""Data lifecycle at scale (issue 15): one Email Log of N rows on PostgreSQL; erase one address found in
10,000 of them, then purge the oldest N/10 while a writer logs emails and a reader pages the log.

    .venv/bin/python benchmarks/lifecycle.py                    # 10,000,000 rows (database opbox_bench_lifecycle)
    .venv/bin/python benchmarks/lifecycle.py --rows 1000000     # a quicker look

The log is filled by the server (INSERT ... SELECT generate_series, the indexes built afterwards): the
oldest N/10 rows sent more than 30 days ago, the rest within the last 30 days; 5% failed with an error,
10% with a CC, a delivery event for every 10th row. The address to erase is in 10,000 of the recent rows
(a third as the only recipient, a third beside another To recipient, a third in CC).

Figures, beside their targets:
- erasure of that address (email_logs.lifecycle.erasure.erase_now: suppress, scrub the rows, delete the events) < 5 s;
- purge (email_logs.lifecycle.retention.purge_expired, the workspace kept 30 days, the batch size of the settings):
  rows/s >= 50,000;
- while it runs, a writer logs one email (row + outbox, one commit, then settles it) --writer-rate times a
  second and a reader reads the first page --reader-rate times a second, each in its own thread and
  connection: their p99 during the purge <= 2x their p99 over --baseline seconds before it.
The data is filled on every run (the purge and the erasure consume it); with --keep-fill the fill is kept
as a template database (<name>_t<rows>) and a run within an hour of it starts from a copy instead.
"""

import argparse
import threading
import time
from datetime import timedelta

from _common import create_database, database_url, percentile, print_table, setup_django, verdict

ADDRESS = "ada.lovelace@client.example"
ERASE_ROWS = 10_000
RETENTION_DAYS = 30
FILL_MARGIN = timedelta(hours=2)  # the newest expired row is this much older than the cutoff at fill time


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=database_url("opbox_bench_lifecycle"))
    parser.add_argument("--baseline", type=float, default=20.0, help="seconds of writer/reader samples before the purge")
    parser.add_argument("--writer-rate", type=float, default=50.0, help="emails logged per second")
    parser.add_argument("--reader-rate", type=float, default=50.0, help="first pages read per second")
    parser.add_argument("--batch-size", type=int, help="EMAIL_LOG_PURGE_BATCH_SIZE for this run")
    parser.add_argument("--pause-ratio", type=float, help="EMAIL_LOG_PURGE_PAUSE_RATIO for this run")
    parser.add_argument("--keep-fill", action="store_true", help="keep the fill as a template for the next runs (disk: 2x)")
    parser.add_argument("--fresh", action="store_true", help="fill anew even if a recent fill of as many rows is kept")
    return parser.parse_args()


# The fill ------------------------------------------------------------------------------------------

FILL = """
INSERT INTO email_logs_emaillogentry (id, table_id, integration_id, sent_at, created_at, "to", from_address, subject,
    status, provider, message_id, cc, bcc, template_id, source, error, attachment_count, attempts, failure)
SELECT 'b' || lpad(n::text, 24, '0'), %(table)s, %(integration)s, t, t,
    CASE WHEN erase AND kind = 0 THEN %(address)s WHEN erase AND kind = 1 THEN 'client' || n || '@example' || (n %% 997) || '.com, ' || %(address)s
         ELSE 'client' || n || '@example' || (n %% 997) || '.com' END,
    'noreply@bench.example', 'Matter ' || (n %% 5000) || ' update ' || n,
    CASE WHEN n %% 20 = 0 THEN 'failed' ELSE 'delivered' END, 'email-provider-a',
    CASE WHEN n %% 20 = 0 THEN '' ELSE 'msg-' || n END,
    CASE WHEN erase AND kind = 2 THEN %(address)s WHEN n %% 10 = 3 THEN 'assistant' || (n %% 5000) || '@firm.example' ELSE '' END,
    '', '', (ARRAY['Workflow Automation', 'Matter Email Step', 'Form Send', 'Workflow Email'])[n %% 4 + 1],
    CASE WHEN n %% 20 = 0 THEN 'Mailbox unavailable' ELSE '' END, n %% 3, 1,
    CASE WHEN n %% 20 = 0 THEN 'provider' ELSE '' END
FROM (
    SELECT n, n >= %(old)s AND (n - %(old)s) %% %(spread)s = 7 AS erase, (n - %(old)s) / %(spread)s %% 3 AS kind,
        CASE WHEN n < %(old)s THEN %(boundary)s - (%(old)s - n) * interval '1 second'
             ELSE %(boundary)s + (n - %(old)s + 1) * %(step)s * interval '1 second' END AS t
    FROM generate_series(0, %(rows)s - 1) AS n
) AS numbered
"""

EVENTS = """
INSERT INTO email_logs_emailevent (entry_id, integration_id, provider_event_id, type, recipient, occurred_at, detail, received_at)
SELECT id, integration_id, 'evt-' || id, 'delivered', split_part("to", ', ', 1), sent_at, '', sent_at
FROM email_logs_emaillogentry WHERE table_id = %(table)s AND (right(id, 1) = '0' OR "to" = %(address)s)
"""


def fill(rows: int):
    """The workspace, its Email Log of `rows` rows and their events; indexes dropped for the insert and rebuilt."""
    from django.db import connection
    from django.utils import timezone

    from integrations.services import create_integration
    from tables.models import Table
    from workspaces.services import create_workspace

    workspace = create_workspace("bench", "Benchmark")
    integration = create_integration(
        workspace, name="Bench Email", type="EMAIL_PROVIDER", config={"fromEmail": "noreply@bench.example"},
        credentials={"apiKey": "re_bench_key_0123456789"}, set_as_site_email_provider=True,
    )  # fmt: skip
    table = Table.objects.get(integration=integration)
    old = rows // 10
    boundary = timezone.now() - timedelta(days=RETENTION_DAYS) - FILL_MARGIN  # the rows after it expire only later
    step = timedelta(days=RETENTION_DAYS).total_seconds() / max(rows - old, 1)  # seconds between recent rows
    parameters = {
        "table": table.pk, "integration": integration.pk, "address": ADDRESS, "old": old, "rows": rows,
        "spread": max((rows - old) // ERASE_ROWS, 1), "boundary": boundary, "step": step,
    }  # fmt: skip
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('email_logs_emaillogentry', 'email_logs_emailevent') "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"  # keep the primary keys and unique constraints
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute(FILL, parameters)
        cursor.execute(EVENTS, parameters)
        filled = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        cursor.execute("VACUUM ANALYZE email_logs_emaillogentry")
        cursor.execute("VACUUM ANALYZE email_logs_emailevent")
        cursor.execute("CHECKPOINT")  # the fill's gigabytes are written back now, not during the measurements
    print(
        f"filled {rows:,} rows in {filled - began:.0f} s, rebuilt {len(indexes)} indexes in {time.perf_counter() - filled:.0f} s"
    )
    return workspace, table


# The load beside the purge -------------------------------------------------------------------------


class Paced(threading.Thread):
    """Calls `operation` `rate` times a second on its own connection, recording each call's time in ms (or
    the figure it returns) under the phase current when it started."""

    def __init__(self, operation, rate: float):
        super().__init__(daemon=True)
        self.operation, self.interval = operation, 1 / rate
        self.phase, self.samples, self.errors = "before", {"before": [], "during": []}, []
        self.stopping = threading.Event()

    def run(self):
        from django.db import connection

        due = time.perf_counter()
        try:
            while not self.stopping.is_set():
                phase, began = self.phase, time.perf_counter()
                try:
                    measured = self.operation()  # its own figure in ms, or None: the whole call is timed
                except Exception as error:  # noqa: BLE001 (reported with the figures)
                    self.errors.append(repr(error))
                    measured = None
                self.samples[phase].append(measured if measured is not None else (time.perf_counter() - began) * 1000)
                due += self.interval
                time.sleep(max(0.0, due - time.perf_counter()))
        finally:
            connection.close()


def _clone(server: str, source: str, target: str) -> None:
    """Recreate database `target` as a copy of `source` (a file copy: seconds, however many rows)."""
    import psycopg

    with psycopg.connect(server + "/postgres", autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [source]
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def prepare(args):
    """The filled workspace and table: copied from the template of an earlier fill of as many rows when one
    is kept and recent enough (its oldest N/10 rows are still the expired ones, give or take its age), else
    filled now (and kept as that template with --keep-fill). `--fresh` always fills."""
    server, name = args.database_url.rsplit("/", 1)
    template = f"{name}_t{args.rows}"
    if not args.fresh and _exists(server, template):
        _clone(server, template, name)
        setup_django(args.database_url)
        from django.db import connection
        from django.utils import timezone

        from tables.models import Table
        from workspaces.models import Workspace

        workspace = Workspace.objects.get(slug="bench")
        if timezone.now() - workspace.created_at < FILL_MARGIN / 2:
            print(f"copied the {args.rows:,}-row fill of {workspace.created_at:%H:%M} UTC from {template}")
            return workspace, Table.objects.get(workspace=workspace)
        connection.close()
    create_database(args.database_url, fresh=True)
    setup_django(args.database_url)
    from django.db import connection

    workspace, table = fill(args.rows)
    if args.keep_fill:
        connection.close()
        _clone(server, name, template)
    return workspace, table


def _exists(server: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(server + "/postgres", autocommit=True) as admin:
        return admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None


def main():
    args = parse_args()
    workspace, table = prepare(args)
    from django.conf import settings
    from django.db import transaction

    from email_logs.lifecycle import erasure, retention
    from email_logs.models import EmailEvent, EmailLogEntry, OutboundEmail
    from tables import services
    from workspaces.services import set_email_log_retention

    if args.batch_size:
        settings.EMAIL_LOG_PURGE_BATCH_SIZE = args.batch_size
    if args.pause_ratio is not None:
        settings.EMAIL_LOG_PURGE_PAUSE_RATIO = args.pause_ratio

    began = time.perf_counter()
    erased, _ = erasure.erase_now(workspace, ADDRESS)
    erase_seconds = time.perf_counter() - began
    assert not EmailLogEntry.objects.filter(to__icontains=ADDRESS).exists()

    def write() -> float:
        # What send_email writes before any provider call (row + outbox, one commit) is timed; then it settles.
        began = time.perf_counter()
        with transaction.atomic():
            entry = EmailLogEntry.objects.create(
                table=table, integration_id=table.integration_id, to="a@example.com", from_address="noreply@bench.example",
                subject="One", provider="email-provider-a", source="Workflow Email",
            )  # fmt: skip
            OutboundEmail.objects.create(entry=entry, payload={"to": ["a@example.com"]})
        logged_ms = (time.perf_counter() - began) * 1000
        with transaction.atomic():
            EmailLogEntry.objects.filter(pk=entry.pk).update(status="delivered", message_id="m")
            OutboundEmail.objects.filter(pk=entry.pk).delete()
        return logged_ms

    def read() -> None:
        page = services.row_page(table, services.RowQuery(filters={}), None, services.DEFAULT_PAGE_SIZE)
        assert len(page.rows) == services.DEFAULT_PAGE_SIZE

    writer, reader = Paced(write, args.writer_rate), Paced(read, args.reader_rate)
    set_email_log_retention(workspace, RETENTION_DAYS)
    events_before = EmailEvent.objects.count()
    writer.start(), reader.start()
    time.sleep(args.baseline)
    writer.phase = reader.phase = "during"
    began = time.perf_counter()
    (report,) = retention.purge_expired(workspace)
    purge_seconds = time.perf_counter() - began
    writer.stopping.set(), reader.stopping.set()
    writer.join(), reader.join()

    rate = report.rows / purge_seconds
    print(
        f"\nData lifecycle, one Email Log of {args.rows:,} rows (PostgreSQL), purge batch {settings.EMAIL_LOG_PURGE_BATCH_SIZE:,}, "
        f"pause ratio {settings.EMAIL_LOG_PURGE_PAUSE_RATIO:g}"
    )
    print(f"erasure: {erased.rows:,} rows scrubbed, {erased.events:,} events deleted, {erased.suppressions} suppression(s)")
    print(f"purge: {report.rows:,} rows and {report.events:,} events ({events_before:,} events before) in {purge_seconds:.1f} s; "
          f"writer {args.writer_rate:g}/s, reader {args.reader_rate:g}/s; errors: writer {len(writer.errors)}, reader {len(reader.errors)}\n")  # fmt: skip
    rows = [
        [f"erase one address in {erased.rows:,} rows (s)", f"{erase_seconds:.2f}", "< 5", verdict(erase_seconds < 5)],
        ["rows purged / s", f"{rate:,.0f}", ">= 50,000", verdict(rate >= 50_000)],
    ]
    for name, samples in (("writer: log one email", writer.samples), ("reader: first page", reader.samples)):
        before, during = percentile(samples["before"], 99), percentile(samples["during"], 99)
        ratio = during / before if before else float("inf")
        rows.append([f"{name} p99 ms before / during ({len(samples['before'])} / {len(samples['during'])} samples)",
                     f"{before:.1f} / {during:.1f} = {ratio:.2f}x", "<= 2x", verdict(ratio <= 2)])  # fmt: skip
    print_table(["figure", "measured", "target", ""], rows)
    for error in (writer.errors + reader.errors)[:5]:
        print("error:", error)


if __name__ == "__main__":
    main()
