"""Email Log at scale: fills one Email Log with N rows on PostgreSQL and prints medians of the reads.

    .venv/bin/python benchmarks/email_log.py                 # 1,000,000 rows, database opbox_bench
    .venv/bin/python benchmarks/email_log.py --rows 100000   # a quicker look

Figures: first page, page 1,000 through the cursor, a filtered page (status=failed), a rare and a common
search, the cost of logging one email, and CSV export rows/second with peak memory (at N/10 and N rows,
to show it is flat). "db" figures are PostgreSQL's own execution time (EXPLAIN ANALYZE) of the page
query; "wall" figures include Django and serialisation.
"""

import argparse
import os
import statistics
import time

from _common import database_url, fill, rss_mib, setup_django


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=database_url("opbox_bench"))
    parser.add_argument("--repeat", type=int, default=15, help="runs per figure; the median is printed")
    return parser.parse_args()


def median_ms(function, repeat):
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def db_ms(function, repeat):
    """Median PostgreSQL execution time (EXPLAIN ANALYZE) of the log queries `function` runs, summed.

    Each query is explained under the SET LOCAL planner settings in force when it ran: those of its own
    transaction (they end at its COMMIT), so the plans are the request's plans.
    """
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        function()
    queries, settings = [], []
    for sql in (q["sql"] for q in captured.captured_queries):
        if sql.startswith("SET LOCAL"):
            settings.append(sql)
        elif sql in ("COMMIT", "ROLLBACK"):
            settings = []
        elif sql.startswith("SELECT") and "emaillogentry" in sql:
            queries.append((list(settings), sql))
    samples = []
    for _ in range(repeat):
        total = 0.0
        for query_settings, sql in queries:
            with transaction.atomic(), connection.cursor() as cursor:
                for setting in query_settings:
                    cursor.execute(setting)
                cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
                total += cursor.fetchone()[0][0]["Execution Time"]
        samples.append(total)
    return statistics.median(samples)


def main():
    args = parse_args()
    setup_django(args.database_url)
    from django.db import transaction

    from email_logs.models import EmailLogEntry, OutboundEmail
    from tables import services

    table = fill(args.rows)
    everything = services.RowQuery(filters={})

    def page(query=everything, cursor=None):
        return lambda: services.row_page(table, query, cursor)

    cursor = None
    for _ in range(999):
        cursor = services.row_page(table, everything, cursor).next_cursor
    figures = [
        ("first page", page(), 10),
        ("page 1,000 (cursor)", page(cursor=cursor), 15),
        ("filtered page status=failed", page(services.RowQuery(filters={"status": "failed"})), 20),
        ("search q=lovelace (1 match)", page(services.RowQuery(filters={}, search="lovelace")), 100),
        ("search q=example42 (1.1%, spread)", page(services.RowQuery(filters={}, search="example42")), 100),
        ("search q=update 42 (old rows only)", page(services.RowQuery(filters={}, search="update 42")), 100),
    ]
    print(f"\nEmail Log benchmark, {args.rows:,} rows, medians of {args.repeat} runs")
    print(f"{'figure':34} {'db ms':>8} {'wall ms':>8} {'target db ms':>13}")
    for name, function, target in figures:
        print(f"{name:34} {db_ms(function, args.repeat):8.2f} {median_ms(function, args.repeat):8.2f} {target:>13}")

    queued, logged = [], []

    def log_one():
        # What send_email writes before any provider call: the row and its outbox, one commit.
        with transaction.atomic():
            entry = EmailLogEntry.objects.create(
                table=table, to="a@example.com", from_address="noreply@bench.example", subject="One",
                provider="email-provider-a", source="Workflow Email",
            )  # fmt: skip
            OutboundEmail.objects.create(entry=entry, payload={"to": ["a@example.com"]})
        queued.append(entry.pk)
        logged.append(entry.pk)

    def settle_one():
        # What the task writes after the provider answered: the final status, the outbox gone, one commit.
        entry_id = queued.pop()
        with transaction.atomic():
            EmailLogEntry.objects.filter(pk=entry_id).update(status="delivered", message_id="m")
            OutboundEmail.objects.filter(pk=entry_id).delete()

    print(f"{'log one email (row + outbox)':34} {'':>8} {median_ms(log_one, 60):8.2f} {'2 (wall)':>13}")
    print(f"{'settle one email (status)':34} {'':>8} {median_ms(settle_one, 60):8.2f} {'':>13}")

    EmailLogEntry.objects.filter(pk__in=logged).delete()  # leave the filled table as it was
    for limit in (args.rows // 10, args.rows):
        query = services.RowQuery(filters={})
        before = peak = rss_mib(os.getpid())
        began = time.perf_counter()
        count = -1
        for count, _ in enumerate(services.csv_lines(table, query)):
            if count % 10_000 == 0:
                peak = max(peak, rss_mib(os.getpid()))
            if count >= limit:
                break
        elapsed = time.perf_counter() - began
        print(
            f"CSV export {count:>9,} rows: {count / elapsed:10,.0f} rows/s, "
            f"RSS grew {peak - before:5.1f} MiB during the export  target >= 20,000 rows/s, flat"
        )


if __name__ == "__main__":
    main()
