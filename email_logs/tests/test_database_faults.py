"""The database going away during a send: the provider accepted the email, recording it failed.
The row stays `queued` with its outbox, and the in-flight sweep settles it without sending twice. And an
answer the database could not store (issue 18, item 8) is refused before it gets there."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from email_logs.models import EmailLogEntry, EmailSource, OutboundEmail
from email_logs.sending.intake import send_email
from integrations.providers import OutboundMessage

from .conftest import resend_accepts

pytestmark = pytest.mark.django_db(transaction=True)


def _fail_final_status_writes(execute, sql, params, many, context):
    # Django's own query hook: every UPDATE that would write the final status fails, as when the
    # database drops the connection right after the provider answered.
    if sql.lstrip().upper().startswith("UPDATE") and "email_logs_emaillogentry" in sql and "status" in sql:
        raise OperationalError("server closed the connection unexpectedly")
    return execute(sql, params, many, context)


def test_a_lost_database_after_the_send_leaves_a_row_the_sweep_settles(workspace, site_provider_a, provider):
    resend_accepts(provider, "accepted-before-the-outage")
    email = OutboundMessage(to=["client@example.com"], subject="Signed", text="Done")

    with connection.execute_wrapper(_fail_final_status_writes):
        send_email(workspace, email, source=EmailSource.MATTER_STEP)  # the task fails; the inline backend records that, the caller goes on

    entry = EmailLogEntry.objects.get()
    assert entry.status == "queued"  # never lost: the row was committed before the provider call
    assert OutboundEmail.objects.filter(pk=entry.pk, attempts=1).exists()

    # After the lease runs out, the sweep resends with the same idempotency key: the provider dedupes.
    OutboundEmail.objects.filter(pk=entry.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    EmailLogEntry.objects.filter(pk=entry.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    call_command("resolve_inflight_emails", "--older-than", "15")

    entry.refresh_from_db()
    assert entry.status == "delivered"
    keys = {call.request.headers["Idempotency-Key"] for call in provider.calls}
    assert len(provider.calls) == 2 and keys == {f"opbox-email-{entry.pk}"}


def test_a_message_id_longer_than_the_log_keeps_fails_the_row_with_the_reason(workspace, site_provider_a, provider):
    # The Message ID column holds 255 characters: on PostgreSQL the settle failed and the row stayed queued.
    resend_accepts(provider, "m" * 300)

    entry = send_email(workspace, OutboundMessage(to=["client@example.com"], subject="Signed", text="Done"), source=EmailSource.MATTER_STEP)

    entry.refresh_from_db()
    assert (entry.status, entry.message_id) == ("failed", "")
    assert "message id" in entry.error and "m" * 300 not in entry.error
    assert not OutboundEmail.objects.exists()
