"""Workspace events delivered by the db_workers (SPEC §15), beside a plain loop of signed POSTs.

PostgreSQL, `--workers` (4) `manage.py db_worker` processes, one WEBHOOK (signed) and one WEBHOOK_PLATFORM
(unsigned) integration, both posting to local receivers (in this process) that answer 200 at once. Phases:

1. throughput: `--events` (10,000) email.sent events, recorded 500 a transaction, fanned out to both
   integrations: deliveries per second from the first event to the last delivery, beside one process posting
   signed bodies in a plain loop (target: at least 0.5x);
2. latency: a steady 100 events/s for `--seconds` (30), one event a transaction: p50/p99 from each event's
   commit to its arrival at the receiver (target p99 < 2 s);
3. statements per delivery: the fan-out and the attempts of 200 events (400 deliveries), counted in this process (workers
   stopped), the task queue's own statements included;
4. an outage: the platform's receiver answers 503 for 60 s while events keep coming, then recovers:
   everything is delivered, each webhook-id reaches the receiver at least once and is recorded delivered
   once (the retry schedule is compressed to `--outage-schedule` so the run ends in minutes).

Usage: .venv/bin/python benchmarks/deliveries.py [--events N] [--workers N] [--seconds S]
"""

import argparse
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _common import (
    ROOT,
    database_url,
    percentile,
    print_table,
    production_environ,
    setup_django,
    start_db_workers,
    stop,
    verdict,
)

SECRET = "whsec_YmVuY2htYXJrLWRlbGl2ZXJpZXMtc2lnbmluZy1zZWNyZXQ="


class Receivers:
    """Two endpoints on one loopback server: /signed and /plain. Records (arrival wall time, path, webhook-id);
    /plain answers 503 while `down` is set."""

    def __init__(self):
        self.arrivals: list[tuple[float, str, str]] = []
        self.lock = threading.Lock()
        self.down = False
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 503 if receivers.down and self.path == "/plain" else 200
                if status == 200:
                    with receivers.lock:
                        receivers.arrivals.append((time.time(), self.path, self.headers.get("webhook-id", "")))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def clear(self):
        with self.lock:
            self.arrivals.clear()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0, help="the steady 100 events/s phase")
    parser.add_argument("--outage-schedule", default="0,2,5,10,20,30,30,30,30,30", help="DELIVERY_RETRY_SCHEDULE of the outage phase")
    return parser.parse_args()


def email_row(n: int) -> dict:
    return {"id": f"cbench{n:019d}", "tableId": "cbenchtable00000000000000", "createdAt": "2026-12-05T09:00:00Z",
            "values": {"To": f"client{n}@example.com", "Subject": f"Statement {n}", "Status": "delivered"}}  # fmt: skip


def record(workspace, start: int, count: int, per_transaction: int = 500):
    from django.db import transaction

    from workspaces.events import record_events

    for first in range(start, start + count, per_transaction):
        with transaction.atomic():
            record_events([(workspace.pk, "email.sent", email_row(n)) for n in range(first, min(first + per_transaction, start + count))])


def undelivered() -> int:
    from deliveries.models import Delivery
    from workspaces.models import WorkspaceEvent

    return Delivery.objects.exclude(status="delivered").count() + WorkspaceEvent.objects.filter(fanned_out_at__isnull=True).count()


def wait_all_delivered(expected: int, timeout: float) -> float:
    from deliveries.models import Delivery

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Delivery.objects.filter(status="delivered").count() >= expected and not undelivered():
            return time.time()
        time.sleep(0.2)
    raise SystemExit(f"not everything was delivered within {timeout:g} s ({undelivered()} left)")


def plain_loop(url: str, count: int) -> float:
    """Signed POSTs of the same bodies, one after another, with the same client: posts per second."""
    import uuid

    from integrations.providers.standard_webhooks import StandardWebhookSender

    sender = StandardWebhookSender(SECRET, base_url=url + "/signed", timeout=15)
    began = time.perf_counter()
    for n in range(count):
        sender.post_event("email.sent", email_row(n), message_id=f"msg_{uuid.uuid4().hex}")
    return count / (time.perf_counter() - began)


def statements_per_delivery(workspace, events: int = 200) -> float:
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from deliveries.models import Delivery

    before = Delivery.objects.count()
    record(workspace, 10_000_000, events)

    def work():
        call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--no-reload", "--verbosity", "0")

    with CaptureQueriesContext(connection) as working:
        work()
    with CaptureQueriesContext(connection) as empty_poll:
        work()
    made = Delivery.objects.count() - before
    return (len(working) - len(empty_poll)) / max(made, 1)


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def main():
    args = parse_args()
    url = database_url("opbox_bench_deliveries")
    receivers = Receivers()
    environ = production_environ(
        url, TASKS_BACKEND="database", OUTBOUND_ALLOW_PRIVATE_NETWORKS="true", DELIVERY_SWEEP_SECONDS="5",
        DELIVERY_WEBHOOK_REQUESTS_PER_SECOND="0", DELIVERY_WEBHOOK_PLATFORM_REQUESTS_PER_SECOND="0",
    )  # fmt: skip
    setup_django(url, environ=environ, fresh=True)
    from django.conf import settings

    from deliveries.models import Delivery
    from integrations.services import create_integration
    from workspaces.models import WorkspaceEvent
    from workspaces.services import create_workspace

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    workspace = create_workspace("bench-deliveries", "Benchmark")
    create_integration(workspace, name="Signed", type="WEBHOOK", config={"url": receivers.url + "/signed"}, credentials={"secret": SECRET})
    create_integration(workspace, name="Platform", type="WEBHOOK_PLATFORM", config={"webhookUrl": receivers.url + "/plain"}, credentials={})
    log_path = Path(ROOT) / "artifacts" / "bench-deliveries.log"
    log_path.parent.mkdir(exist_ok=True)
    figures = {"load_before": load_average()}

    # 1. Throughput.
    figures["plain"] = plain_loop(receivers.url, 2000)
    receivers.clear()
    workers = start_db_workers(environ, args.workers, log_path, interval=0.05)
    try:
        time.sleep(3)  # the workers start up
        began = time.time()
        record(workspace, 0, args.events)
        ended = wait_all_delivered(2 * args.events, 900)
        figures["throughput"] = 2 * args.events / (ended - began)
        figures["load_throughput"] = load_average()

        # 2. Latency at a steady 100 events/s, one event a transaction.
        receivers.clear()
        created = {}
        start_n = 1_000_000
        began = time.monotonic()
        for i in range(int(100 * args.seconds)):
            due = began + i / 100
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            created[f"cbench{start_n + i:019d}"] = time.time()
            record(workspace, start_n + i, 1, 1)
        wait_all_delivered(2 * (args.events + len(created)), 120)
        ids = dict(Delivery.objects.filter(email_id__in=list(created)).values_list("pk", "email_id"))
        latencies = [at - created[ids[webhook_id]] for at, _, webhook_id in receivers.arrivals if webhook_id in ids]
        # The platform's posts carry no webhook-id: time them from their delivery rows instead.
        plain = Delivery.objects.filter(email_id__in=list(created), integration__type="WEBHOOK_PLATFORM").values_list("email_id", "delivered_at")
        latencies += [delivered.timestamp() - created[email] for email, delivered in plain]
        figures["p50"], figures["p99"] = percentile(latencies, 50), percentile(latencies, 99)
        figures["latency_samples"] = len(latencies)
        figures["load_latency"] = load_average()
    finally:
        stop(*workers)

    # 3. Statements per delivery (workers stopped; the fan-out and the attempts run here).
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True
    figures["statements"] = statements_per_delivery(workspace)

    # 4. A receiver down for 60 s, then back.
    outage = {**environ, "DELIVERY_RETRY_SCHEDULE": args.outage_schedule}
    receivers.clear()
    before = set(Delivery.objects.values_list("pk", flat=True))
    workers = start_db_workers(outage, args.workers, log_path, interval=0.05)
    try:
        time.sleep(3)
        receivers.down = True
        outage_began = time.monotonic()
        n = 2_000_000
        while time.monotonic() - outage_began < 60:
            record(workspace, n, 20, 20)
            n += 20
            time.sleep(1)
        receivers.down = False
        expected = 2 * (n - 2_000_000)
        wait_all_delivered(len(before) + expected, 600)
    finally:
        stop(*workers)
    new = Delivery.objects.exclude(pk__in=before)
    signed_ids = [webhook_id for _, path, webhook_id in receivers.arrivals if path == "/signed"]
    signed_rows = set(new.filter(integration__type="WEBHOOK").values_list("pk", flat=True))
    figures["outage"] = {
        "events": n - 2_000_000, "deliveries": new.count(), "delivered": new.filter(status="delivered").count(),
        "signed_missing": len(signed_rows - set(signed_ids)), "signed_repeats": len(signed_ids) - len(set(signed_ids)),
        "plain_arrivals": sum(1 for _, path, _ in receivers.arrivals if path == "/plain"),
        "unfanned": WorkspaceEvent.objects.filter(fanned_out_at__isnull=True).count(),
        "max_attempts": max(new.values_list("attempts", flat=True), default=0),
    }  # fmt: skip
    report(args, figures)


def report(args, f):
    o = f["outage"]
    print(f"\n{args.events:,} email.sent events x 2 integrations (WEBHOOK signed, WEBHOOK_PLATFORM); {args.workers} db_workers")
    print(f"machine: {f['load_before']} before; {f['load_throughput']} after the throughput phase; {f['load_latency']} after the latency phase\n")
    ratio = f["throughput"] / f["plain"]
    lost = o["deliveries"] != 2 * o["events"] or o["delivered"] != o["deliveries"] or o["signed_missing"] or o["unfanned"]
    print_table(
        ["figure", "measured", "target", "verdict"],
        [
            ["deliveries/s through the workers", f"{f['throughput']:.0f}", "", ""],
            ["signed POSTs/s, a plain loop", f"{f['plain']:.0f}", "", ""],
            ["workers / plain loop", f"{ratio:.2f}x", ">= 0.5x", verdict(ratio >= 0.5)],
            [f"event -> delivery p50 at 100 events/s ({f['latency_samples']} deliveries)", f"{f['p50'] * 1000:.0f} ms", "", ""],
            ["event -> delivery p99 at 100 events/s", f"{f['p99'] * 1000:.0f} ms", "< 2000 ms", verdict(f["p99"] < 2)],
            ["SQL statements per delivery (fan-out + attempt + queue)", f"{f['statements']:.1f}", "", ""],
            ["outage 60 s: events / deliveries / delivered", f"{o['events']} / {o['deliveries']} / {o['delivered']}", "all", verdict(not lost)],
            ["outage: signed webhook-ids never received", str(o["signed_missing"]), "0", verdict(o["signed_missing"] == 0)],
            ["outage: signed webhook-ids received again (at least once is the promise)", str(o["signed_repeats"]), "", ""],
            ["outage: most attempts of one delivery", str(o["max_attempts"]), "", ""],
        ],
    )


if __name__ == "__main__":
    main()
