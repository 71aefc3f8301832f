"""Outbound email through the batch API and the db_workers, beside a plain provider loop and beside the peer
a Django team would pick (django-post-office + django-anymail), all to the same fake provider.

    .venv/bin/python benchmarks/email_pipeline.py                             # the issue's figures (~5 min)
    .venv/bin/python benchmarks/email_pipeline.py --emails 1000 --noisy-seconds 5 --paced-emails 1000  # a quick look

The provider is scripts/fake_providers.py in its own process; PostgreSQL database opbox_bench_email; the web
tier is gunicorn (`--web-workers`), the senders `--workers` `manage.py db_worker` processes. Phases:

1. plain loops: one provider client sends `--emails` emails one call each (no database), A then B;
2. unpaced, end to end: `--emails` emails posted to POST /api/emails/batch (1,000 per request, `--clients`
   threads) until every row is final, for provider A (batched) and B (one call per email); then the
   statements per email (intake and worker, counted in this process) and one `send_email` alone;
3. paced: the fake allows 2 requests/s per key and answers 429 beyond; `--paced-emails` through the batch
   API with EMAIL_PROVIDER_A_REQUESTS_PER_SECOND=2; beside it the per-email plain loop at the same pace;
4. the peer: post_office `mail.send` then `send_queued_mail` (1 process) through anymail, A and B;
5. noisy neighbour: integration H (provider B) drains a queue alone, then again while integration X
   (provider A, a key the fake always answers 429, Retry-After 1) gets 200 emails/s for `--noisy-seconds`.

Every run checks its emails: each row final, none lost, and the fake's count of each email once.
"""

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from _common import (
    ROOT,
    admin_token,
    database_url,
    emails_in_flight,
    fill,
    print_table,
    production_environ,
    setup_django,
    start_db_workers,
    start_fake_provider,
    start_gunicorn,
    stop,
    verdict,
)

PEER = ROOT / "benchmarks" / "peer"
PACE = 2.0  # requests per second, Resend's default
B_KEY, NOISY_KEY = "SG.bench_key_0123456789", "re_bench_ratelimit_0123456789"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--emails", type=int, default=10000, help="per unpaced run, plain loop and peer")
    parser.add_argument("--paced-emails", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=4, help="db_worker processes")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=2, help="threads posting batches")
    parser.add_argument("--noisy-seconds", type=float, default=30)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--database-url", default=database_url("opbox_bench_email"))
    return parser.parse_args()


def body(n: int, **extra) -> dict:
    return {"to": f"client{n}@example.com", "subject": f"Pipeline benchmark {n}", "html": "<p>Your documents are ready.</p>",
            "text": "Your documents are ready.", **extra}  # fmt: skip


def message(n: int):
    from integrations.providers import OutboundMessage

    email = body(n)
    return OutboundMessage(to=[email["to"]], subject=email["subject"], html=email["html"], text=email["text"],
                           from_email="noreply@bench.example")  # fmt: skip


# Measuring -----------------------------------------------------------------------------------------


def plain_loop(integration, emails: int, pace: float | None = None) -> float:
    """Emails per second of one provider client sending one email per call (every `1/pace` s when paced)."""
    from integrations.providers import client_for

    client = client_for(integration.type, integration.credentials["apiKey"])
    began = time.perf_counter()
    for n in range(emails):
        if pace:
            time.sleep(max(0.0, began + n / pace - time.perf_counter()))
        client.send(message(n), idempotency_key=f"plain-loop-{time.time_ns()}-{n}")
    return emails / (time.perf_counter() - began)


def post_batches(base: str, token: str, emails: list[dict], clients: int) -> None:
    chunks = [emails[i : i + 1000] for i in range(0, len(emails), 1000)]

    def client(mine):
        with requests.Session() as session:
            for chunk in mine:
                answer = session.post(f"{base}/api/emails/batch", json={"emails": chunk}, timeout=120,
                                      headers={"Authorization": f"Bearer {token}"})  # fmt: skip
                if answer.status_code != 202:
                    raise SystemExit(f"the batch API answered {answer.status_code}: {answer.text[:300]}")

    threads = [threading.Thread(target=client, args=(chunks[i::clients],)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def settled(timeout: float = 600) -> float:
    """Wait until no email is in flight; returns when that was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not emails_in_flight():
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"emails still in flight after {timeout:g} s")


def provider_log(fake: str) -> tuple[list, list]:
    return requests.get(f"{fake}/_sent", timeout=60).json(), requests.get(f"{fake}/_calls", timeout=60).json()


def check(fake: str, expected: int) -> dict:
    """Rows final and delivered, and the provider's count of each email once; then a clean slate."""
    from email_logs.models import EmailLogEntry

    sent, calls = provider_log(fake)
    recipients = [record["body"].get("to") or record["body"]["personalizations"][0]["to"] for record in sent]
    rows = {status: EmailLogEntry.objects.filter(status=status).count() for status in ("queued", "delivered", "failed")}
    result = {"rows": rows, "provider_emails": len(sent), "twice": len(recipients) - len({json.dumps(r) for r in recipients}),
              "calls": len(calls), "429s": sum(call["status"] == 429 for call in calls)}  # fmt: skip
    result["ok"] = rows == {"queued": 0, "delivered": expected, "failed": 0} and len(sent) == expected and not result["twice"]
    EmailLogEntry.objects.all().delete()
    requests.post(f"{fake}/_reset", timeout=10)
    return result


def workers_for(environ: dict, count: int, log_path: Path, **settings) -> list:
    workers = start_db_workers({**environ, **{k: str(v) for k, v in settings.items()}}, count, log_path, interval=0.05)
    time.sleep(2)  # their start-up (Django, first poll), outside the clocks
    return workers


def end_to_end(base, token, fake, emails: list[dict], clients: int) -> tuple[float, dict]:
    began = time.perf_counter()
    post_batches(base, token, emails, clients)
    done = settled()
    return len(emails) / (done - began), check(fake, len(emails))


def statements_per_email(workspace, integration_id: str | None, count: int = 1000) -> tuple[float, float]:
    """(intake, worker) statements per email for `count` emails, counted in this process (workers stopped)."""
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from email_logs.sending.intake import send_emails

    def work():
        call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--no-reload", "--verbosity", "0")

    with CaptureQueriesContext(connection) as intake:
        send_emails(workspace, [message(n) for n in range(count)], source="Workflow Email", integration_id=integration_id)
    with CaptureQueriesContext(connection) as working:
        work()
    with CaptureQueriesContext(connection) as empty_poll:
        work()
    return len(intake) / count, (len(working) - len(empty_poll)) / count


def one_send_email(workspace, runs: int = 300) -> tuple[float, int]:
    """(milliseconds, statements) of one send_email in this process, the database task backend queueing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from email_logs.sending.intake import send_email

    send_email(workspace, message(0), source="Workflow Email")  # warm
    with CaptureQueriesContext(connection) as queries:
        send_email(workspace, message(1), source="Workflow Email")
    began = time.perf_counter()
    for n in range(runs):
        send_email(workspace, message(n), source="Workflow Email")
    statements = [query for query in queries if query["sql"] not in ("BEGIN", "COMMIT")]
    return (time.perf_counter() - began) / runs * 1000, len(statements), len(queries)


def peer(fake: str, provider: str, emails: int, url: str) -> tuple[float, dict]:
    python = PEER / ".venv" / "bin" / "python"
    if not python.exists():  # the peer's own environment, never the app's
        subprocess.run([sys.executable, "-m", "venv", str(PEER / ".venv")], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(PEER / "requirements.txt")], check=True)
    api = f"{fake}/a/" if provider == "a" else f"{fake}/b/v3/"
    command = [str(python), str(PEER / "run_peer.py"), "--provider", provider, "--api-url", api,
               "--database-url", url.rsplit("/", 1)[0] + "/opbox_bench_peer", "--emails", str(emails)]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    sent, _ = provider_log(fake)
    requests.post(f"{fake}/_reset", timeout=10)
    figures["provider_emails"] = len(sent)
    return emails / (figures["queue_seconds"] + figures["send_seconds"]), figures


def drain(workers, workspace, integration_id, count: int, during=None) -> float:
    """Emails per second the workers settle a queue of `count` emails (queued while they are stopped)."""
    from email_logs.sending.intake import send_emails

    for worker in workers:
        worker.send_signal(signal.SIGSTOP)
    try:
        for start in range(0, count, 1000):
            batch = [message(n) for n in range(start, min(count, start + 1000))]
            send_emails(workspace, batch, source="Workflow Email", integration_id=integration_id)
    finally:
        began = time.perf_counter()
        for worker in workers:
            worker.send_signal(signal.SIGCONT)
    from email_logs.models import EmailLogEntry

    while EmailLogEntry.objects.filter(integration_id=integration_id, status="queued").exists():
        if during:
            during()
        time.sleep(0.05)
    return count / (time.perf_counter() - began)


def noisy_feed(workspace, integration_id, stop_at: float) -> threading.Thread:
    """200 emails a second to the rate-limited integration until `stop_at`, from its own connection."""
    from django.db import connection

    from email_logs.sending.intake import send_emails

    def feed():
        try:
            n = 0
            while time.monotonic() < stop_at:
                send_emails(workspace, [message(n + i) for i in range(100)], source="Workflow Email", integration_id=integration_id)
                n += 100
                time.sleep(0.5)
        finally:
            connection.close()

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


# The run -------------------------------------------------------------------------------------------


def main():
    args = parse_args()
    log_path = Path(tempfile.mkdtemp(prefix="opbox-bench-")) / "servers.log"
    fake_process, fake = start_fake_provider(log_path)
    environ = production_environ(
        args.database_url, TASKS_BACKEND="database", LOG_LEVEL="WARNING", EMAIL_PROVIDER_A_API_URL=f"{fake}/a",
        EMAIL_PROVIDER_B_API_URL=f"{fake}/b", EMAIL_PROVIDER_A_REQUESTS_PER_SECOND=0, EMAIL_SEND_MAX_BACKOFF=10,
    )  # fmt: skip
    setup_django(args.database_url, environ=environ, fresh=True)
    from email_logs.models import EmailLogEntry
    from integrations.services import create_integration

    table = fill(0)
    workspace, a = table.workspace, table.integration
    config = {"fromEmail": "noreply@bench.example"}
    b = create_integration(workspace, name="B", type="EMAIL_PROVIDER_ALT", config=config, credentials={"apiKey": B_KEY})
    noisy = create_integration(workspace, name="X", type="EMAIL_PROVIDER", config=config, credentials={"apiKey": NOISY_KEY})
    token = admin_token(workspace)
    web, base = start_gunicorn(environ, workers=args.web_workers, log_path=log_path)
    workers, figures = [], {}
    try:
        figures["plain A"] = plain_loop(a, args.emails)
        figures["plain B"] = plain_loop(b, args.emails)
        requests.post(f"{fake}/_reset", timeout=10)

        workers = workers_for(environ, args.workers, log_path)
        emails = [body(n) for n in range(args.emails)]
        figures["ours A"], figures["check A"] = end_to_end(base, token, fake, emails, args.clients)
        emails_b = [body(n, integrationId=b.pk) for n in range(args.emails)]
        figures["ours B"], figures["check B"] = end_to_end(base, token, fake, emails_b, args.clients)

        solo = max(1000, int(figures["ours B"] * args.noisy_seconds / 3))
        figures["H alone"] = drain(workers, workspace, b.pk, solo)
        noisy_count = max(1000, int(figures["H alone"] * args.noisy_seconds))
        feed = noisy_feed(workspace, noisy.pk, time.monotonic() + args.noisy_seconds)
        figures["H beside X"] = drain(workers, workspace, b.pk, noisy_count)
        feed.join()
        sent, calls = provider_log(fake)
        figures["X calls"] = sum(call["status"] == 429 for call in calls)
        EmailLogEntry.objects.all().delete()
        requests.post(f"{fake}/_reset", timeout=10)
        stop(*workers)

        figures["statements A"] = statements_per_email(workspace, None)
        figures["statements B"] = statements_per_email(workspace, b.pk)
        figures["send_email"] = one_send_email(workspace)
        EmailLogEntry.objects.all().delete()
        requests.post(f"{fake}/_reset", timeout=10)

        requests.post(f"{fake}/_config", json={"requestsPerSecond": PACE}, timeout=10)
        figures["plain paced"] = plain_loop(a, 6, pace=PACE)
        requests.post(f"{fake}/_reset", timeout=10)
        workers = workers_for(environ, args.workers, log_path, EMAIL_PROVIDER_A_REQUESTS_PER_SECOND=PACE)
        began = time.perf_counter()
        post_batches(base, token, [body(n) for n in range(args.paced_emails)], args.clients)
        figures["paced seconds"] = settled() - began
        figures["check paced"] = check(fake, args.paced_emails)
        requests.post(f"{fake}/_config", json={"requestsPerSecond": None}, timeout=10)
        stop(*workers)
        workers = []

        if not args.skip_peer:
            figures["peer A"], figures["peer check A"] = peer(fake, "a", args.emails, args.database_url)
            figures["peer B"], figures["peer check B"] = peer(fake, "b", args.emails, args.database_url)
    finally:
        stop(*workers, web, fake_process)
    report(args, figures, log_path)


def report(args, f: dict, log_path: Path) -> None:
    print(f"\n{args.emails:,} emails per unpaced run; {args.workers} db_workers, {args.web_workers} gunicorn workers, "
          f"{args.clients} clients posting 1,000 per request; shared 2-core machine\n")  # fmt: skip
    rows = []
    for provider, target in (("A", 1.0), ("B", 0.5)):
        ratio = f[f"ours {provider}"] / f[f"plain {provider}"]
        rows.append([f"plain loop {provider} (one call per email)", f"{f[f'plain {provider}']:,.0f}", "1.00x", "", ""])
        rows.append([f"ours {provider}, batch API end to end", f"{f[f'ours {provider}']:,.0f}", f"{ratio:.2f}x",
                     f">= {target}x", verdict(ratio >= target)])  # fmt: skip
        if f"peer {provider}" in f:
            versus = f[f"ours {provider}"] / f[f"peer {provider}"]
            goal = 2.0 if provider == "A" else 1.0
            rows.append([f"peer {provider}: post_office + anymail, end to end", f"{f[f'peer {provider}']:,.0f}",
                         f"ours {versus:.2f}x", f">= {goal}x peer", verdict(versus >= goal)])  # fmt: skip
    print_table(["path", "emails/s", "ratio", "target", ""], rows)
    for provider in ("A", "B"):
        intake, worker = f[f"statements {provider}"]
        print(f"statements per email (BEGIN/COMMIT included), provider {provider}: {intake:.3f} intake + {worker:.3f} worker = {intake + worker:.3f}"
              f"   checks: {f[f'check {provider}']}")  # fmt: skip
        if f"peer check {provider}" in f:
            print(f"   peer {provider}: {f[f'peer check {provider}']}")
    ms, statements, round_trips = f["send_email"]
    print(f"\none send_email in-process: {ms:.2f} ms (<= 2 ms: {verdict(ms <= 2)}), {statements} statements "
          f"(<= 4: {verdict(statements <= 4)}; {round_trips} round trips with BEGIN and COMMIT, one commit)")  # fmt: skip
    if "peer check A" in f:  # the peer's mail.send, timed in the same run: its queueing phase over its emails
        peer_ms = f["peer check A"]["queue_seconds"] / args.emails * 1000
        print(f"   beside the peer's mail.send: {peer_ms:.2f} ms each, so ours is {ms / peer_ms:.2f}x "
              f"(<= 2x: {verdict(ms <= 2 * peer_ms)})")
    paced, check_paced = f["paced seconds"], f["check paced"]
    share = check_paced["429s"] / max(1, check_paced["calls"])
    print(f"\npaced run: {args.paced_emails:,} emails at {PACE:g} requests/s settled in {paced:.1f} s "
          f"(<= 60 s: {verdict(paced <= 60)}); {check_paced['provider_emails']:,} received, {check_paced['twice']} twice, "
          f"lost {args.paced_emails - check_paced['rows']['delivered']}; 429s on {check_paced['429s']} of "
          f"{check_paced['calls']} calls = {share:.1%} (<= 1%: {verdict(share <= 0.01)}); check {verdict(check_paced['ok'])}")
    plain = f["plain paced"]
    print(f"   the per-email plain loop at the same limit: {plain:.2f} emails/s, so {args.paced_emails:,} take "
          f"{args.paced_emails / plain:,.0f} s")  # fmt: skip
    ratio = f["H beside X"] / f["H alone"]
    print(f"\nnoisy neighbour: H alone {f['H alone']:,.0f} emails/s, beside X answered 429 for {args.noisy_seconds:g} s "
          f"({f['X calls']} 429s) {f['H beside X']:,.0f} emails/s = {ratio:.2f}x (>= 0.8x: {verdict(ratio >= 0.8)})")
    print(f"\nserver log: {log_path}")


if __name__ == "__main__":
    main()
