"""The peer of benchmarks/email_pipeline.py: what a Django team would pick to queue and send email.

django-post-office queues each email (`mail.send`, priority medium: a row per email) and sends the queue
(`send_queued_mail`, one process) through django-anymail's Resend or SendGrid backend, to the same fake provider.
Runs in its own environment (benchmarks/peer/.venv, from requirements.txt beside this file), never the app's:

    benchmarks/peer/.venv/bin/python benchmarks/peer/run_peer.py --provider a --api-url http://127.0.0.1:PORT/a/ \
        --database-url postgres://postgres@127.0.0.1:5432/opbox_bench_peer --emails 2000

Prints one JSON line: seconds to queue, seconds to send, and what post_office counted.
"""

import argparse
import json
import logging
import time

import django
import psycopg
from django.conf import settings

BACKENDS = {"a": "anymail.backends.resend.EmailBackend", "b": "anymail.backends.sendgrid.EmailBackend"}


def configure(args) -> None:
    server, name = args.database_url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:  # a fresh queue every run
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    user_host, port = server.split("://", 1)[1].rsplit(":", 1)
    user, host = user_host.split("@")
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": user, "HOST": host, "PORT": port}},
        INSTALLED_APPS=["django.contrib.contenttypes", "post_office"],
        USE_TZ=True,
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],  # post_office renders subjects
        POST_OFFICE={"BACKENDS": {"default": BACKENDS[args.provider]}, "DEFAULT_PRIORITY": "medium"},
        ANYMAIL={
            "RESEND_API_KEY": "re_bench_peer_0123456789", "RESEND_API_URL": args.api_url,
            "SENDGRID_API_KEY": "SG.bench_peer_0123456789", "SENDGRID_API_URL": args.api_url,
        },  # fmt: skip
        LOGGING={"version": 1, "root": {"level": "WARNING"}},
    )
    django.setup()
    logging.getLogger("post_office").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", choices=["a", "b"], required=True)
    parser.add_argument("--api-url", required=True, help="the anymail API URL, ending in /")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--emails", type=int, default=2000)
    args = parser.parse_args()
    configure(args)
    from post_office import mail
    from post_office.models import STATUS, Email

    began = time.perf_counter()
    for n in range(args.emails):
        mail.send(
            [f"client{n}@example.com"], "noreply@bench.example", subject=f"Pipeline benchmark {n}",
            message="Your documents are ready.", html_message="<p>Your documents are ready.</p>",
        )  # fmt: skip
    queued = time.perf_counter()
    mail.send_queued_mail_until_done(lockfile="/tmp/opbox-bench-peer.lock", processes=1)  # what send_queued_mail runs
    done = time.perf_counter()
    sent, failed = (Email.objects.filter(status=status).count() for status in (STATUS.sent, STATUS.failed))
    print(json.dumps({"queue_seconds": queued - began, "send_seconds": done - queued, "sent": sent, "failed": failed}))


if __name__ == "__main__":
    main()
