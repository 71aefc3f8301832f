"""Suppressions hold for emails already queued (issue 18, item 5): a complaint, a manual suppression or an
erasure that comes while an email waits (a worker backlog, a paced integration, a pause) is honoured when
a sender claims it. An email already attempted keeps its body: its retry must be the same send."""

import json
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from email_logs.events.suppressions import record_suppressions
from email_logs.models import EmailLogEntry, EmailSource, EmailStatus, OutboundEmail, SuppressionReason
from email_logs.sending.intake import send_email, send_emails
from email_logs.sending.recovery import resolve_inflight_emails
from integrations.providers import OutboundMessage

from .conftest import PROVIDER_A, PROVIDER_B

pytestmark = pytest.mark.django_db(transaction=True)

DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
SEND_B, BATCH_A = f"{PROVIDER_B}/v3/mail/send", f"{PROVIDER_A}/emails/batch"


@pytest.fixture(autouse=True)
def on_workers(settings):
    settings.TASKS = DATABASE_TASKS


def run_worker():
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--verbosity", "0")


def an_email(*to, cc=()):
    return OutboundMessage(to=list(to), cc=list(cc), subject="Statement", text="Attached.")


def suppress(workspace, address, reason=SuppressionReason.COMPLAINED):
    record_suppressions(workspace.pk, [(address, reason, None)])


def sendgrid_accepts_each(provider):
    sent = iter(range(100))
    provider.add_callback(responses.POST, SEND_B, callback=lambda request: (202, {"X-Message-Id": f"sg-{next(sent)}"}, ""))


def row(entry):
    return EmailLogEntry.objects.values("status", "to", "cc", "error", "attempts").get(pk=entry.pk)


def test_an_email_queued_before_its_only_recipient_complained_is_not_sent(workspace, provider_b, provider):
    sendgrid_accepts_each(provider)
    entry = send_email(workspace, an_email("ada@example.com"), source=EmailSource.FORM_SEND, integration_id=provider_b.pk)
    suppress(workspace, "ada@example.com")  # while it waits for a worker

    run_worker()

    assert not provider.calls
    assert row(entry) == {
        "status": EmailStatus.FAILED, "to": "ada@example.com", "cc": "",
        "error": "All recipients are suppressed: ada@example.com", "attempts": 0,
    }  # fmt: skip
    assert not OutboundEmail.objects.exists()


def test_a_recipient_suppressed_while_the_email_waited_is_left_out_and_named(workspace, provider_b, provider):
    sendgrid_accepts_each(provider)
    entry = send_email(
        workspace, an_email("ada@example.com", "bob@example.com", cc=["carol@example.com"]),
        source=EmailSource.FORM_SEND, integration_id=provider_b.pk,
    )  # fmt: skip
    suppress(workspace, "Carol@Example.com", SuppressionReason.MANUAL)
    suppress(workspace, "ada@example.com")

    run_worker()

    (call,) = provider.calls
    personalization = json.loads(call.request.body)["personalizations"][0]
    assert personalization["to"] == [{"email": "bob@example.com"}] and "cc" not in personalization
    assert row(entry) == {
        "status": EmailStatus.DELIVERED, "to": "bob@example.com", "cc": "",
        "error": "Not sent to suppressed recipients: ada@example.com, carol@example.com", "attempts": 1,
    }  # fmt: skip


def test_a_batch_formed_after_a_suppression_leaves_that_email_out(workspace, site_provider_a, provider):
    provider.add_callback(
        responses.POST, BATCH_A,
        callback=lambda request: (200, {}, json.dumps({"data": [{"id": f"id-{e['to'][0]}"} for e in json.loads(request.body)]})),
    )  # fmt: skip
    entries = send_emails(workspace, [an_email(f"client{n}@example.com") for n in range(4)], source=EmailSource.FORM_SEND)
    suppress(workspace, "client2@example.com", SuppressionReason.BOUNCED)

    run_worker()

    (call,) = provider.calls
    assert [email["to"] for email in json.loads(call.request.body)] == [[f"client{n}@example.com"] for n in (0, 1, 3)]
    statuses = [row(entry)["status"] for entry in entries]
    assert statuses == [EmailStatus.DELIVERED, EmailStatus.DELIVERED, EmailStatus.FAILED, EmailStatus.DELIVERED]


def test_an_email_already_attempted_keeps_its_body_so_its_retry_is_the_same_send(workspace, site_provider_a, provider, settings):
    settings.EMAIL_SEND_MAX_BACKOFF = 30
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=503, json={"name": "internal_server_error"}, headers={"Retry-After": "5"})
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "retried"})
    entry = send_email(workspace, an_email("ada@example.com"), source=EmailSource.FORM_SEND)
    run_worker()  # the first attempt: a 503, its retry scheduled
    suppress(workspace, "ada@example.com")
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())

    run_worker()

    first, second = provider.calls
    assert first.request.body == second.request.body
    assert first.request.headers["Idempotency-Key"] == second.request.headers["Idempotency-Key"]
    assert (row(entry)["status"], row(entry)["attempts"]) == (EmailStatus.DELIVERED, 2)


def test_the_in_flight_sweep_does_not_send_to_an_address_suppressed_since(workspace, provider_b, provider, settings):
    sendgrid_accepts_each(provider)
    settings.TASKS = DUMMY_TASKS  # the worker that should have sent it died
    entry = send_email(workspace, an_email("ada@example.com"), source=EmailSource.FORM_SEND, integration_id=provider_b.pk)
    EmailLogEntry.objects.filter(pk=entry.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    suppress(workspace, "ada@example.com")

    resolve_inflight_emails()

    assert not provider.calls
    assert row(entry)["status"] == EmailStatus.FAILED
