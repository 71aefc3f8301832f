"""Paced sending: real db_worker processes on PostgreSQL keep an integration's provider calls to its
configured rate together, and a 429 pauses them all (integrations/pacing.py)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection
from django_tasks_db.models import DBTaskResult

from email_logs.models import EmailLogEntry, EmailSource
from email_logs.sending.intake import send_email
from integrations.providers import Attachment, OutboundMessage

ROOT = Path(__file__).resolve().parents[2]


# Real worker processes on PostgreSQL -----------------------------------------------------------------

RATE = 4  # calls per second


@pytest.fixture
def workers(fake_provider, settings):
    """start(2): that many `manage.py db_worker` processes on this test's database, paced at RATE."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    database = connection.settings_dict
    environ = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "opbox.settings_test",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "TASKS_BACKEND": "database",
        "EMAIL_PROVIDER_A_API_URL": f"{fake_provider}/a",
        "EMAIL_PROVIDER_A_REQUESTS_PER_SECOND": str(RATE),
        "EMAIL_SEND_MAX_BACKOFF": "10",
        "LOG_LEVEL": "WARNING",
    }
    started = []

    def start(count):
        command = [sys.executable, "manage.py", "db_worker", "--interval", "0.05", "--no-startup-delay", "--no-reload"]
        started.extend(
            subprocess.Popen(command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)
        )

    yield start
    for process in started:
        process.terminate()
    for process in started:
        process.wait(timeout=30)


def send_singly(workspace, count):
    """`count` emails that each take a call (and so a turn) of their own: one task each, which the two workers
    take side by side, and an attachment each, since plain singles would share a batch call."""
    for n in range(count):
        message = OutboundMessage(
            to=[f"client{n}@example.com"], subject=f"Hi {n}", text="x",
            attachments=[Attachment(filename=f"note-{n}.txt", content_type="text/plain", content=b"note")],
        )  # fmt: skip
        send_email(workspace, message, source=EmailSource.FORM_SEND)


def settled(count, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if EmailLogEntry.objects.exclude(status="queued").count() == count:
            return
        time.sleep(0.1)
    raise AssertionError(f"{count} emails were not settled within {timeout} s")


def provider_calls(url):
    return sorted(requests.get(f"{url}/_calls", timeout=5).json(), key=lambda call: call["at"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_together_keep_to_the_configured_rate(workspace, site_provider_a, workers, fake_provider):
    send_singly(workspace, 16)
    workers(2)

    settled(16)

    assert set(EmailLogEntry.objects.values_list("status", flat=True)) == {"delivered"}
    times = [call["at"] for call in provider_calls(fake_provider)]
    assert len(times) == 16
    # Never more than RATE calls in any second. 100 ms are allowed for the way from the turn to the provider: on a
    # loaded machine (the whole suite on 2 cores) one call of a window can arrive late and shorten the next
    # window by that much (a full run measured 0.926 s); a broken pacer shows windows of a fraction of that.
    windows = [later - earlier for earlier, later in zip(times, times[RATE:], strict=False)]
    assert min(windows) >= 1 - 0.1, windows
    ran_on = {worker for ids in DBTaskResult.objects.filter(status="SUCCESSFUL").values_list("worker_ids", flat=True) for worker in ids}
    assert len(ran_on) == 2  # both processes sent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_429_pauses_both_worker_processes_for_its_retry_after(workspace, site_provider_a, workers, fake_provider):
    key = site_provider_a.credentials["apiKey"]
    requests.post(f"{fake_provider}/_config", json={"throttle": {key: 2}}, timeout=5)  # 429 for 2 s from the first call
    send_singly(workspace, 8)
    workers(2)

    settled(8)

    calls = provider_calls(fake_provider)
    refused = [call for call in calls if call["status"] == 429]
    assert len(refused) == 1  # the first 429 paused the integration for both processes
    after = [call["at"] - refused[0]["at"] for call in calls if call["at"] > refused[0]["at"]]
    assert min(after) >= refused[0]["retryAfter"] - 0.05  # its Retry-After was kept by everyone
    assert set(EmailLogEntry.objects.values_list("status", flat=True)) == {"delivered"}
