"""The outbox guarantees: a rollback sends nothing, a crash leaves a row that is settled later,
and workers see exactly one row per email."""

from datetime import timedelta

import pytest
import requests
import responses
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from email_logs.models import EmailLogEntry, EmailSource, OutboundEmail
from email_logs.sending.delivery import deliver_queued_email
from email_logs.sending.intake import send_email
from email_logs.tasks import deliver_email
from integrations.providers import OutboundMessage

from .conftest import PROVIDER_A, resend_accepts, sendgrid_accepts

# Real commits: a send runs when its transaction commits (on_commit), as it does in production.
pytestmark = pytest.mark.django_db(transaction=True)


def an_email(**overrides):
    return OutboundMessage(**({"to": ["client@example.com"], "subject": "Signed", "text": "Done"} | overrides))


def test_a_rolled_back_caller_sends_nothing_and_logs_nothing(workspace, site_provider_a, provider):
    resend_accepts(provider)

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)
            raise RuntimeError("the matter step failed after queueing its email")

    assert not provider.calls
    assert not EmailLogEntry.objects.exists()


def test_inside_a_caller_transaction_the_send_waits_for_the_commit(workspace, site_provider_a, provider):
    resend_accepts(provider)

    with transaction.atomic():
        entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)
        assert entry.status == "queued" and not provider.calls

    entry.refresh_from_db()
    assert entry.status == "delivered"
    assert len(provider.calls) == 1


def test_every_source_label_is_accepted_and_logged(workspace, site_provider_a, provider):
    resend_accepts(provider)
    for source in EmailSource.values:
        send_email(workspace, an_email(), source=source)

    assert sorted(EmailLogEntry.objects.values_list("source", flat=True)) == sorted(EmailSource.values)


def test_with_a_worker_backend_the_row_is_queued_then_settled_once(member_api, site_provider_a, provider, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    resend_accepts(provider, "worker-sent")

    response = member_api.post("/api/emails", {"to": "a@example.com", "subject": "Hi", "text": "x"}, format="json")

    assert response.status_code == 202
    assert response.json()["values"]["Status"] == "queued"
    entry_id = response.json()["id"]
    assert not provider.calls
    assert deliver_email.call(entry_id) == "delivered"
    assert deliver_email.call(entry_id) == "skipped"  # a duplicate task run never sends twice
    assert len(provider.calls) == 1
    assert EmailLogEntry.objects.get().message_id == "worker-sent"


def _crashed_entry(settings, workspace, integration, *, attempts, age=timedelta(hours=1)):
    """What a process leaves when it dies mid-send: a queued row, its outbox, attempts recorded."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=integration.id)
    EmailLogEntry.objects.filter(pk=entry.pk).update(sent_at=timezone.now() - age)
    OutboundEmail.objects.filter(pk=entry.pk).update(attempts=attempts, last_attempt_at=timezone.now() - age)
    return entry


def test_resolver_resends_provider_a_emails_with_the_same_idempotency_key(workspace, site_provider_a, provider, settings):
    entry = _crashed_entry(settings, workspace, site_provider_a, attempts=1)
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    resend_accepts(provider, "deduplicated-by-provider")

    call_command("resolve_inflight_emails", "--older-than", "15")

    entry.refresh_from_db()
    assert entry.status == "delivered" and entry.message_id == "deduplicated-by-provider"
    assert provider.calls[0].request.headers["Idempotency-Key"] == f"opbox-email-{entry.pk}"


def test_resolver_marks_an_interrupted_provider_b_send_failed_without_resending(workspace, provider_b, provider, settings):
    entry = _crashed_entry(settings, workspace, provider_b, attempts=1)
    sendgrid_accepts(provider)

    call_command("resolve_inflight_emails", "--older-than", "15")

    entry.refresh_from_db()
    assert entry.status == "failed" and "interrupted" in entry.error
    assert not provider.calls
    assert not OutboundEmail.objects.exists()


def test_resolver_sends_never_attempted_emails_and_leaves_recent_ones(workspace, provider_b, provider, settings):
    old = _crashed_entry(settings, workspace, provider_b, attempts=0)
    recent = _crashed_entry(settings, workspace, provider_b, attempts=1, age=timedelta(minutes=1))
    sendgrid_accepts(provider)

    call_command("resolve_inflight_emails", "--older-than", "15")

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == "delivered"
    assert recent.status == "queued"
    assert len(provider.calls) == 1


def test_a_claimed_email_is_not_sent_by_a_second_sender(workspace, site_provider_a, provider, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)
    OutboundEmail.objects.filter(pk=entry.pk).update(lease_expires_at=timezone.now() + timedelta(minutes=5))

    assert deliver_queued_email(entry.pk) == "skipped"
    assert not provider.calls


def test_deleting_the_integration_before_the_send_fails_the_row(workspace, site_provider_a, provider, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)
    site_provider_a.delete()

    assert deliver_queued_email(entry.pk) == "failed"
    entry.refresh_from_db()
    assert "deleted or disabled" in entry.error
    assert not provider.calls


def test_provider_a_unreachable_counts_every_attempt(workspace, site_provider_a, provider, settings):
    settings.EMAIL_SEND_MAX_ATTEMPTS = 2
    provider.add(responses.POST, f"{PROVIDER_A}/emails", body=requests.exceptions.ConnectionError("reset by peer"))

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)

    assert entry.status == "failed"
    assert len(provider.calls) == 2
