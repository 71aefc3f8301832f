"""Outbound email throughput through the worker pipeline, beside the same provider client in a plain loop.

    .venv/bin/python benchmarks/email_pipeline.py                           # 2,000 emails, 4 db_workers
    .venv/bin/python benchmarks/email_pipeline.py --emails 500 --workers 2  # a quicker look

The provider is scripts/fake_providers.py (a ThreadingHTTPServer, one thread per connection) in its own
process, answering at once; its capacity is measured first with wrk (4 connections), so a reader can
see whether it limits the figures. Then, on PostgreSQL (database opbox_bench_email):

1. plain loop: one ResendClient sends --emails messages one after another (no database at all);
2. pipeline, end to end: with TASKS_BACKEND=database and --workers `manage.py db_worker` processes
   already running, --producers threads of this process call email_logs.services.send_email --emails
   times in all (each writes the log row, the outbox record and the task row) while the workers send;
   the clock stops when no outbox record is left and every log row is delivered;
3. pipeline, drain: the workers are paused (SIGSTOP) while --emails more are logged and queued, then
   resumed (SIGCONT); the clock runs from there until all are settled: the workers' own throughput.

Every email is checked afterwards: each log row delivered, no outbox record left, every task SUCCESSFUL,
and the fake provider's /_sent count equal to the number of emails.

Target: the pipeline at least 0.8x the plain loop's emails/second.
"""

import argparse
import logging
import signal
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import (
    database_url,
    emails_in_flight,
    fill,
    print_table,
    production_environ,
    run_wrk,
    setup_django,
    start_db_workers,
    start_fake_provider,
    stop,
    verdict,
)

RATIO_TARGET = 0.8


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4, help="db_worker processes")
    parser.add_argument("--producers", type=int, default=4, help="threads calling send_email, end to end")
    parser.add_argument("--database-url", default=database_url("opbox_bench_email"))
    return parser.parse_args()


def email_request(n: int):
    from email_logs.services import EmailRequest

    return EmailRequest(
        to=[f"client{n}@example.com"], subject=f"Pipeline benchmark {n}", source="Workflow Automation",
        html="<p>Your documents are ready.</p>", text="Your documents are ready.",
    )  # fmt: skip


def plain_loop(integration, emails: int) -> float:
    """Seconds to send `emails` messages through one provider client, one after another."""
    from email_logs.services import OutboundEmail, _message_for
    from integrations.providers import client_for

    # The very message the task builds from the outbox, so both paths send the same bytes.
    outbox = OutboundEmail(payload=_payload(email_request(0)))
    message = _message_for(outbox, integration)
    client = client_for(integration.type, integration.credentials["apiKey"])
    began = time.perf_counter()
    for n in range(emails):
        client.send(message, idempotency_key=f"plain-loop-{n}")
    return time.perf_counter() - began


def produce(workspace, emails: int, producers: int, first: int = 0) -> None:
    """send_email `emails` times from `producers` threads, each with its own database connection (as
    several web workers would call it)."""
    from django.db import connection

    from email_logs.services import send_email

    def producer(offset):
        try:
            for n in range(first + offset, first + emails, producers):
                send_email(workspace, email_request(n))
        finally:
            connection.close()

    threads = [threading.Thread(target=producer, args=(offset,)) for offset in range(producers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _payload(email) -> dict:
    from dataclasses import asdict

    return asdict(email)


def settled(expected: int, timeout: float = 600) -> float:
    """Wait until no outbox record is left and `expected` rows are final; returns when that was seen."""
    from email_logs.models import EmailLogEntry

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not emails_in_flight():
            now = time.perf_counter()
            if EmailLogEntry.objects.exclude(status="queued").count() >= expected:
                return now
        time.sleep(0.02)
    raise SystemExit(f"the workers did not settle {expected} emails within {timeout:g} s")


def statements_per_email(workspace) -> tuple[int, int]:
    """(statements send_email sends, statements a db_worker sends) for one email, counted in this process."""
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from email_logs.services import send_email

    def work_until_empty():
        call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--no-reload", "--verbosity", "0")

    with CaptureQueriesContext(connection) as sending:
        send_email(workspace, email_request(-1))
    with CaptureQueriesContext(connection) as working:
        work_until_empty()  # sends the one queued email, then finds the queue empty
    with CaptureQueriesContext(connection) as empty_poll:
        work_until_empty()
    return len(sending), len(working) - len(empty_poll)


def wait_for_workers(count: int, timeout: float = 60) -> None:
    """Until `count` other sessions are connected to our database: each db_worker polls at start-up."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return
            time.sleep(0.1)
    raise SystemExit(f"{count} db_worker processes did not connect within {timeout:g} s")


def main():
    args = parse_args()
    log_path = Path(tempfile.mkdtemp(prefix="opbox-bench-")) / "workers.log"
    fake, fake_url = start_fake_provider(log_path)
    workers = []
    try:
        capacity = run_wrk(
            f"{fake_url}/a/emails", "re_bench_key_0123456789", connections=4, seconds=5, method="POST",
            body='{"from": "noreply@bench.example", "to": ["a@example.com"], "subject": "s", "html": "<p>x</p>"}',
        )  # fmt: skip
        requests.post(f"{fake_url}/_reset", timeout=10)
        environ = production_environ(
            args.database_url, TASKS_BACKEND="database", LOG_LEVEL="WARNING",
            EMAIL_PROVIDER_A_API_URL=f"{fake_url}/a", EMAIL_PROVIDER_B_API_URL=f"{fake_url}/b",
        )  # fmt: skip
        setup_django(args.database_url, environ=environ, fresh=True)
        logging.getLogger("django_tasks").setLevel(logging.WARNING)
        from django_tasks_db.models import DBTaskResult

        from email_logs.models import EmailLogEntry

        table = fill(0)
        workspace, integration = table.workspace, table.integration

        plain_seconds = plain_loop(integration, args.emails)
        plain_sent = len(requests.get(f"{fake_url}/_sent", timeout=30).json())
        requests.post(f"{fake_url}/_reset", timeout=10)

        sending_statements, worker_statements = statements_per_email(workspace)
        workers = start_db_workers(environ, args.workers, log_path)
        wait_for_workers(args.workers)

        began = time.perf_counter()
        produce(workspace, args.emails, args.producers)
        enqueued = time.perf_counter()
        end_to_end_done = settled(args.emails + 1)

        # Drain: the workers are paused (SIGSTOP) while the emails are logged and queued, and the clock
        # starts when they are resumed, so it measures their sending alone.
        for worker in workers:
            worker.send_signal(signal.SIGSTOP)
        try:
            produce(workspace, args.emails, args.producers, first=args.emails)
        finally:
            drain_began = time.perf_counter()
            for worker in workers:
                worker.send_signal(signal.SIGCONT)
        drain_done = settled(2 * args.emails + 1)

        rows = {status: EmailLogEntry.objects.filter(status=status).count() for status in ("queued", "delivered", "failed")}
        tasks = {status: DBTaskResult.objects.filter(status=status).count() for status in ("SUCCESSFUL", "FAILED")}
        provider_sent = len(requests.get(f"{fake_url}/_sent", timeout=30).json())
    finally:
        stop(*workers, fake)

    plain_rate = args.emails / plain_seconds
    end_to_end_rate = args.emails / (end_to_end_done - began)
    drain_rate = args.emails / (drain_done - drain_began)
    print(f"\nfake provider capacity (wrk, 4 connections, 5 s): {capacity['rps']:,.0f} sends/s, p99 {capacity['p99']:.1f} ms")
    print(f"{args.emails:,} emails each way, {args.workers} db_worker processes, provider A (Resend API) on loopback\n")
    print_table(
        ["path", "seconds", "emails/s", "vs plain loop", f">= {RATIO_TARGET}x"],
        [
            ["plain loop (one client, no database)", f"{plain_seconds:.2f}", f"{plain_rate:,.0f}", "1.00x", ""],
            ["pipeline, end to end (send_email + workers)", f"{end_to_end_done - began:.2f}", f"{end_to_end_rate:,.0f}",
             f"{end_to_end_rate / plain_rate:.2f}x", verdict(end_to_end_rate / plain_rate >= RATIO_TARGET)],
            ["pipeline, drain (workers only)", f"{drain_done - drain_began:.2f}", f"{drain_rate:,.0f}",
             f"{drain_rate / plain_rate:.2f}x", verdict(drain_rate / plain_rate >= RATIO_TARGET)],
        ],
    )  # fmt: skip
    print(f"\nend to end: send_email took {enqueued - began:.2f} s for {args.emails:,} emails "
          f"({args.emails / (enqueued - began):,.0f}/s from {args.producers} threads of this one process); "
          f"the workers finished {end_to_end_done - enqueued:.2f} s later")  # fmt: skip
    print(f"statements per email: {sending_statements} in send_email, {worker_statements} in a db_worker "
          f"(django-tasks-db's own included); the plain loop sends none")  # fmt: skip
    expected = 2 * args.emails + 1  # and the one email whose statements were counted
    correct = (rows["delivered"] == expected and not rows["queued"] and not rows["failed"]
               and tasks["SUCCESSFUL"] == expected and provider_sent == expected and plain_sent == args.emails)  # fmt: skip
    print(f"log rows: {rows}; tasks: {tasks}; provider received {provider_sent:,} (pipeline) and {plain_sent:,} (plain loop) "
          f"-> {'every email delivered once' if correct else 'MISMATCH'}")  # fmt: skip
    if not correct:
        print(f"worker log: {log_path}")


if __name__ == "__main__":
    main()
