"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py opbox.wsgi`.

Every value can be overridden from the environment (GUNICORN_CMD_ARGS or the variables below).
"""

import multiprocessing
import os

import environ

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Sync workers: the app is short-request CRUD plus provider calls bounded by a 10 s timeout.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Above an inline send's worst case (4 attempts x 10 s timeout + 3 waits x 10 s): use workers to go lower.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "90"))
graceful_timeout = 30
keepalive = 5
# The app is imported once, in the master, and every worker is a fork of it: a worker recycled after
# max_requests starts in milliseconds. Without it each recycled worker imported Django and every app again,
# a second of CPU that the other workers' requests waited for (p99 at 32 connections doubled).
preload_app = environ.Env().bool("GUNICORN_PRELOAD", default=True)
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "10000"))
max_requests_jitter = 1000
accesslog = "-"
errorlog = "-"
# The access log carries the request id too; no query strings (they are not secret here, but stay terse).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
# Addresses in URLs (DELETE /api/suppressions/<address>) are masked: erasure cannot reach a log file.
logger_class = "opbox.gunicorn_logging.AddressMaskingLogger"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def pre_fork(server, worker):
    """No database connection may be shared by two processes: the master closes any that loading opened."""
    if preload_app:
        from django.db import connections

        connections.close_all()


def when_ready(server):
    """Before the first fork, the master imports the URLconf, and with it every view module: else each new
    worker did so on its first request, 50 ms that request and the ones queued behind it waited for."""
    if preload_app:
        from django.urls import reverse

        reverse("healthz")
