"""The in-flight sweep runs by itself on the workers (SPEC §11): a task that enqueues its next run, kept to
one live chain (opbox.task_chain) however often it is started, with no cron."""

import os
import threading
import time
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from email_logs import tasks
from email_logs.models import EmailLogEntry, EmailSource, EmailStatus, OutboundEmail
from email_logs.sending.intake import send_email
from email_logs.sending.recovery import resolve_inflight_emails
from email_logs.tasks import INFLIGHT_SWEEP_EVERY, keep_sweep_scheduled, sweep_inflight_emails
from email_logs.tests.factories import add_rows
from integrations import pacing
from integrations.models import IntegrationPace
from integrations.providers import OutboundMessage
from opbox.models import TaskChain
from tables.models import Table

from .conftest import PROVIDER_A, resend_accepts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def db_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def pending_sweeps():
    return list(DBTaskResult.objects.filter(task_path=sweep_inflight_emails.module_path, status="READY"))


def crashed_send(integration, minutes_ago=20) -> EmailLogEntry:
    """An email a dead worker left queued: its row and outbox written, never attempted."""
    table = Table.objects.get(integration=integration)
    (entry,) = add_rows(table, 1, status=EmailStatus.QUEUED, start=timezone.now() - timedelta(minutes=minutes_ago))
    EmailLogEntry.objects.filter(pk=entry.pk).update(integration=integration)
    message = OutboundMessage(to=["client@example.com"], subject="Left behind", text="Hello")
    OutboundEmail.objects.create(entry_id=entry.pk, payload=OutboundEmail.payload_for(message))
    return entry


def run_worker():
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")


def test_the_sweep_runs_on_a_worker_and_schedules_its_next_run(db_backend, site_provider_a, provider):
    entry = crashed_send(site_provider_a)
    resend_accepts(provider, "resent-by-sweep")

    keep_sweep_scheduled()
    run_worker()

    entry.refresh_from_db()
    assert (entry.status, entry.message_id) == (EmailStatus.DELIVERED, "resent-by-sweep")
    (following,) = pending_sweeps()
    assert following.run_after > timezone.now() + INFLIGHT_SWEEP_EVERY - timedelta(minutes=1)
    assert str(TaskChain.objects.get(name=tasks.INFLIGHT_SWEEP_CHAIN).token) == following.args_kwargs["args"][0]


def test_starting_the_chain_again_keeps_one_chain(db_backend):
    for _ in range(3):
        keep_sweep_scheduled()

    assert len(pending_sweeps()) == 1


def test_a_superseded_copy_neither_sweeps_nor_schedules(db_backend, site_provider_a, provider):
    keep_sweep_scheduled()
    entry = crashed_send(site_provider_a)

    result = sweep_inflight_emails.call("a-token-of-an-older-chain")

    assert result == {"ran": False}
    assert len(pending_sweeps()) == 1 and not provider.calls
    entry.refresh_from_db()
    assert entry.status == EmailStatus.QUEUED


def test_a_lost_chain_is_started_again(db_backend):
    keep_sweep_scheduled()
    DBTaskResult.objects.all().delete()  # its enqueued run was lost (e.g. a purge of the task table)
    TaskChain.objects.update(next_run_at=timezone.now() - 3 * INFLIGHT_SWEEP_EVERY)

    keep_sweep_scheduled()

    assert len(pending_sweeps()) == 1


def test_the_first_task_a_worker_runs_starts_the_chain(db_backend, member_api, site_provider_a, provider, monkeypatch):
    monkeypatch.setattr(tasks.keep_sweep_scheduled_on_worker, "checked_at", None)
    resend_accepts(provider)
    response = member_api.post("/api/emails", {"to": "a@example.com", "subject": "Hi", "text": "x"}, format="json")
    assert response.status_code == 202

    run_worker()  # delivers the email; its start also starts the chain, whose first run sweeps now

    assert EmailLogEntry.objects.get(pk=response.json()["id"]).status == EmailStatus.DELIVERED
    (following,) = pending_sweeps()
    assert following.run_after > timezone.now()


def test_no_chain_where_tasks_run_inline(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    assert keep_sweep_scheduled() is None
    assert not TaskChain.objects.exists()


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
def test_workers_starting_at_once_make_one_chain(db_backend):
    barrier = threading.Barrier(6)
    errors = []

    def start():
        try:
            barrier.wait()
            keep_sweep_scheduled()
        except Exception as error:  # noqa: BLE001  (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert len(pending_sweeps()) == 1


# What the sweep must leave alone: retries waiting for their time (issue 18, item 7) --------------------------


def run_worker_quietly():
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--verbosity", "0")


def logged_long_ago(entry):
    """The email was logged 20 minutes ago: past the age at which the sweep takes a queued email as crashed."""
    EmailLogEntry.objects.filter(pk=entry.pk).update(sent_at=timezone.now() - timedelta(minutes=20))


def when_due(task):
    DBTaskResult.objects.filter(pk=task.pk).update(run_after=timezone.now())


def until_due(task):
    """Let the time a retry was scheduled for (a second or less here) go by."""
    time.sleep(max((task.run_after - timezone.now()).total_seconds(), 0) + 0.05)


def pending_deliveries():
    return list(DBTaskResult.objects.filter(task_path=tasks.deliver_emails.module_path, status="READY"))


def test_a_retry_paused_by_a_429_is_not_sent_by_the_sweep_during_the_pause(db_backend, workspace, site_provider_a, provider, settings):
    settings.EMAIL_SEND_MAX_BACKOFF = 1
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=429, json={"name": "rate_limit_exceeded"}, headers={"Retry-After": "3600"})
    resend_accepts(provider, "after-the-pause")
    entry = send_email(workspace, OutboundMessage(to=["client@example.com"], subject="Hi", text="x"), source=EmailSource.FORM_SEND)
    run_worker_quietly()  # the 429: the integration is paused for an hour, the retry scheduled a moment later
    (retry,) = pending_deliveries()
    until_due(retry)
    run_worker_quietly()  # the retry finds the pause and hands itself on to its end
    (after_the_pause,) = pending_deliveries()
    assert after_the_pause.run_after > timezone.now() + timedelta(minutes=59)
    logged_long_ago(entry)

    assert resolve_inflight_emails() == {"resent": 0, "marked_failed": 0}

    assert len(provider.calls) == 1  # nothing during the pause
    assert EmailLogEntry.objects.values_list("status", "attempts").get(pk=entry.pk) == (EmailStatus.QUEUED, 0)
    assert OutboundEmail.objects.get(pk=entry.pk).attempts == 1
    # Its lease covers the time it is scheduled for.
    assert OutboundEmail.objects.get(pk=entry.pk).lease_expires_at >= after_the_pause.run_after


def test_emails_never_attempted_of_a_paused_integration_are_not_sent_by_the_sweep(db_backend, workspace, site_provider_a, provider):
    resend_accepts(provider, "too-early")
    pacing.pause(site_provider_a.pk, 3600)  # a 429 seen by another sender
    entry = send_email(workspace, OutboundMessage(to=["client@example.com"], subject="Hi", text="x"), source=EmailSource.FORM_SEND)
    run_worker_quietly()  # finds the pause: handed on to its end
    logged_long_ago(entry)

    assert resolve_inflight_emails() == {"resent": 0, "marked_failed": 0}
    assert not provider.calls


def test_a_retry_waiting_for_a_paced_turn_keeps_its_lease_until_then(db_backend, workspace, site_provider_a, provider, settings):
    settings.EMAIL_PROVIDER_A_REQUESTS_PER_SECOND = 0.01  # one call per 100 s
    settings.EMAIL_SEND_MAX_BACKOFF = 1
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=503, json={"name": "internal_server_error"})
    resend_accepts(provider, "in-its-turn")
    entry = send_email(workspace, OutboundMessage(to=["client@example.com"], subject="Hi", text="x"), source=EmailSource.FORM_SEND)
    run_worker_quietly()  # the 503: a retry scheduled a moment later
    (retry,) = pending_deliveries()
    until_due(retry)
    run_worker_quietly()  # the retry's turn is 100 s after the first call: handed on to it
    (in_its_turn,) = pending_deliveries()
    logged_long_ago(entry)

    assert resolve_inflight_emails() == {"resent": 0, "marked_failed": 0}
    assert len(provider.calls) == 1

    when_due(in_its_turn)
    IntegrationPace.objects.filter(pk=site_provider_a.pk).update(last_call_at=None, next_slot_at=None)  # its turn has come
    run_worker_quietly()
    assert EmailLogEntry.objects.values_list("status", "message_id", "attempts").get(pk=entry.pk) == (
        EmailStatus.DELIVERED, "in-its-turn", 2,
    )  # fmt: skip
