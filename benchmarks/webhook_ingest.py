"""Webhook ingest: signed SendGrid event batches posted to gunicorn, applied to a 100,000-email Email Log.

    .venv/bin/python benchmarks/webhook_ingest.py                                   # the issue's figures
    .venv/bin/python benchmarks/webhook_ingest.py --rows 5000 --batches 10          # a quicker look

Production shape: gunicorn (gunicorn.conf.py, --web-workers sync workers, DEBUG off, fresh keys) over
PostgreSQL (database opbox_bench_webhooks, recreated each run). One workspace, one SendGrid integration with
its Signed Event Webhook key (an EC P-256 pair made here) and --rows logged emails (COPY).

--batches batches of --batch-size events are signed as SendGrid signs them (ECDSA P-256 / SHA-256 over the
timestamp and body) and posted by --clients threads at once. Events name random emails of the log, nine in
ten by our custom arg (opbox_email_id), one in ten by sg_message_id only; a mix of processed, delivered, open,
click, deferred, bounce (5%), dropped and spamreport. --duplicates (30%) of each batch repeat events already
sent (earlier batches or the same one), as SendGrid's retries do.

Printed: events/s over the whole run (events posted / wall time), the p50/p99/max time to acknowledge a batch
(after a warm-up of small batches that is not counted),
then the SQL statements one batch costs at two batch sizes (in process, CaptureQueriesContext, the whole
Django stack), and a reconciliation: every unique event stored once, every answer 200, the counts adding up.

Targets: >= 5,000 events/s; p99 acknowledgement of a 1,000-event batch < 1 s; statements per batch constant
in the batch size.
"""

import argparse
import base64
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import database_url, percentile, print_table, production_environ, setup_django, start_gunicorn, stop, verdict
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

KINDS = ["processed"] * 25 + ["delivered"] * 30 + ["open"] * 20 + ["click"] * 8 + ["deferred"] * 6 + ["bounce"] * 5 + ["dropped"] * 4 + ["spamreport"] * 2


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="logged emails")
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--duplicates", type=float, default=0.30, help="share of each batch repeating earlier events")
    # SendGrid does not say how many batches it posts at once; on two cores more in flight only queue.
    parser.add_argument("--clients", type=int, default=2, help="batches posted at once")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--database-url", default=database_url("opbox_bench_webhooks"))
    return parser.parse_args()


class Signer:
    """SendGrid's side of the Signed Event Webhook: a P-256 key pair; the public half is the verification key."""

    def __init__(self):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.verification_key = base64.b64encode(der).decode()

    def headers(self, body: bytes) -> dict:
        timestamp = str(int(time.time()))
        signature = self.private_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }


def fill(rows: int, verification_key: str):
    """A workspace, its SendGrid integration with the verification key, and `rows` delivered emails (COPY).

    Returns (integration, [(row id, message id, recipient)])."""
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from email_logs.log_tables import ensure_email_log_table
    from integrations.services import create_integration
    from opbox.ids import new_public_id
    from workspaces.services import create_workspace

    workspace = create_workspace("bench-webhooks", "Webhook benchmark")
    integration = create_integration(
        workspace, name="Bench SendGrid", type="EMAIL_PROVIDER_ALT",
        config={"fromEmail": "noreply@bench.example", "webhookVerificationKey": verification_key},
        credentials={"apiKey": "SG.bench_key_0123456789"}, set_as_site_email_provider=True,
    )  # fmt: skip
    table = ensure_email_log_table(integration)
    emails = [(new_public_id(), f"sgmsg{i:07d}", f"client{i}@example{i % 997}.com") for i in range(rows)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    columns = '"id", table_id, integration_id, sent_at, created_at, "to", from_address, subject, status, provider, message_id, cc, bcc, template_id, source, error, attachment_count, attempts'
    began = time.perf_counter()
    with connection.cursor() as cursor, cursor.copy(f"COPY email_logs_emaillogentry ({columns}) FROM STDIN") as copy:
        for i, (row_id, message_id, recipient) in enumerate(emails):
            sent = start + timedelta(seconds=i)
            copy.write_row((row_id, table.pk, integration.pk, sent, sent, recipient, "noreply@bench.example", f"Update {i}",
                            "delivered", "email-provider-b", message_id, "", "", "", "Workflow Email", "", 0, 1))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE email_logs_emaillogentry")
    print(f"filled {rows:,} emails in {time.perf_counter() - began:.1f} s")
    return integration, emails


def event(rng: random.Random, number: int, emails: list) -> dict:
    row_id, message_id, recipient = emails[rng.randrange(len(emails))]
    kind = rng.choice(KINDS)
    item = {"email": recipient, "timestamp": 1_795_000_000 + number, "event": kind, "sg_event_id": f"sg-ev-{number:09d}",
            "sg_message_id": f"{message_id}.filterdrecv-5645d9c87f-abcde-1-5F5FC76C-9.0"}  # fmt: skip
    if rng.random() < 0.9:
        item["opbox_email_id"] = row_id
    if kind == "bounce":
        item |= {"type": "bounce" if rng.random() < 0.7 else "blocked", "reason": "550 5.1.1 mailbox unavailable"}
    elif kind == "dropped":
        item["reason"] = "Bounced Address"
    elif kind in ("delivered", "deferred"):
        item["response"] = "250 2.0.0 OK" if kind == "delivered" else "451 try again later"
    elif kind == "click":
        item["url"] = "https://acme.example/matters/1"
    return item


def make_batches(rng, emails, *, batches: int, size: int, duplicates: float, first_number: int = 0) -> tuple[list[list[dict]], int]:
    """`batches` lists of `size` events, `duplicates` of each repeating an event already made; returns them and
    how many unique events they hold."""
    made, out, number = [], [], first_number
    for _ in range(batches):
        repeats = int(size * duplicates) if made else 0
        fresh = [event(rng, number + i, emails) for i in range(size - repeats)]
        number += len(fresh)
        made += fresh
        batch = fresh + [rng.choice(made) for _ in range(repeats)]
        rng.shuffle(batch)
        out.append(batch)
    return out, number - first_number


def post_batches(base: str, path: str, signer: Signer, batches: list, clients: int) -> tuple[list, float]:
    """Post every batch, `clients` at a time; returns ([(status, counts, seconds)], wall seconds)."""
    bodies = [json.dumps(batch).encode() for batch in batches]
    results, lock, queue = [], threading.Lock(), list(reversed(bodies))

    def client():
        session = requests.Session()
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            started = time.perf_counter()
            response = session.post(base + path, data=body, headers=signer.headers(body), timeout=60)
            elapsed = time.perf_counter() - started
            with lock:
                results.append((response.status_code, response.json() if response.status_code == 200 else response.text[:200], elapsed))

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - began


def statements_per_batch(integration, signer, emails, sizes, first_number) -> dict:
    """SQL statements of one batch through the whole Django stack, per batch size (fresh events, 30% repeated)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    path = reverse("email-provider-b-webhook", kwargs={"integration_id": integration.pk})
    client, counts, rng = Client(), {}, random.Random(7)
    for size in sizes:
        (batch,), made = make_batches(rng, emails, batches=1, size=size, duplicates=0, first_number=first_number)
        first_number += made
        batch += batch[: int(size * 0.3)]
        body = json.dumps(batch).encode()
        headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in signer.headers(body).items() if name != "Content-Type"}
        with CaptureQueriesContext(connection) as queries:
            response = client.post(path, body, content_type="application/json", secure=True, HTTP_HOST="127.0.0.1", **headers)
        assert response.status_code == 200, response.content
        counts[size] = len(queries)
    return counts


def main():
    args = parse_args()
    signer = Signer()
    environ = production_environ(args.database_url)
    setup_django(args.database_url, environ=environ, fresh=True)
    integration, emails = fill(args.rows, signer.verification_key)
    rng = random.Random(2026)
    batches, unique = make_batches(rng, emails, batches=args.batches, size=args.batch_size, duplicates=args.duplicates)
    posted = sum(len(batch) for batch in batches)
    from django.urls import reverse

    path = reverse("email-provider-b-webhook", kwargs={"integration_id": integration.pk})
    log_path = Path(tempfile.mkdtemp(prefix="opbox-bench-")) / "servers.log"
    server = None
    try:
        server, base = start_gunicorn(environ, workers=args.web_workers, log_path=log_path)
        print(f"posting {args.batches} batches of {args.batch_size:,} events ({posted:,} in all, {unique:,} unique), "
              f"{args.clients} at a time, to gunicorn ({args.web_workers} workers)")  # fmt: skip
        # Warm-up, not counted: each worker opens its database connection and loads what the first request does.
        warm_up, _ = make_batches(random.Random(1), emails, batches=args.web_workers * 2, size=10, duplicates=0, first_number=10**9)
        post_batches(base, path, signer, warm_up, args.web_workers)
        results, wall = post_batches(base, path, signer, batches, args.clients)
    finally:
        if server is not None:
            stop(server)
    statements = statements_per_batch(integration, signer, emails, (100, args.batch_size), first_number=10**8)
    report(args, results, wall, posted, unique, statements, log_path)


def report(args, results, wall, posted, unique, statements, log_path):
    from email_logs.models import EmailEvent, EmailLogEntry, Suppression

    ok = [counts for status, counts, _ in results if status == 200]
    latencies = [seconds for _, _, seconds in results]
    rate, p50, p99 = posted / wall, percentile(latencies, 50), percentile(latencies, 99)
    sizes = sorted(statements)
    constant = len({statements[size] for size in sizes}) == 1
    print()
    print_table(
        ["figure", "value", "target", ""],
        [
            ["events/s (posted / wall time)", f"{rate:,.0f}", ">= 5,000", verdict(rate >= 5000)],
            ["batch acknowledged, p50 (s)", f"{p50:.3f}", "", ""],
            ["batch acknowledged, max (s)", f"{max(latencies):.3f}", "", ""],
            [f"batch acknowledged, p99 (s), {args.batch_size:,} events", f"{p99:.3f}", "< 1", verdict(p99 < 1)],
            *[[f"statements per batch of {size:,}", statements[size], "constant", verdict(constant) if size == sizes[-1] else ""] for size in sizes],
        ],
    )
    # The warm-up's and the statement runs' events are fresh ones, stored besides the run's.
    stored = EmailEvent.objects.count() - sum(sizes) - args.web_workers * 2 * 10
    applied = sum(counts["applied"] for counts in ok)
    duplicates = sum(counts["duplicates"] for counts in ok)
    unmatched = sum(counts["unmatched"] for counts in ok)
    print()
    print_table(
        ["reconciliation", "value", "expected", ""],
        [
            ["answers 200", len(ok), len(results), verdict(len(ok) == len(results))],
            ["events stored by the run", stored, unique, verdict(stored == unique)],
            ["applied (sum of answers)", applied, unique, verdict(applied == unique)],
            ["duplicates (sum of answers)", duplicates, posted - unique, verdict(duplicates == posted - unique)],
            ["unmatched (sum of answers)", unmatched, 0, verdict(unmatched == 0)],
        ],
    )
    print(f"\nrows failed by bounces and drops: {EmailLogEntry.objects.filter(status='failed').count():,}; "
          f"suppressions: {Suppression.objects.count():,}; server log: {log_path}")  # fmt: skip
    refused = [(status, counts) for status, counts, _ in results if status != 200]
    if refused:
        print("first refusals:", refused[:3])


if __name__ == "__main__":
    main()
