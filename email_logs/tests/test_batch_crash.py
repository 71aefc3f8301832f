"""A process dying in the middle of a provider-A batch, before the call or after it: every email keeps its
row, the in-flight sweep resends the very same batch under the same Idempotency-Key, and the provider
(which deduplicates by that key, as Resend does) sends each email once."""

import json
from datetime import timedelta

import pytest
import requests
import responses
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from email_logs.models import EmailLogEntry, EmailSource, OutboundEmail
from email_logs.sending.intake import send_emails
from integrations.providers import OutboundMessage

from .conftest import PROVIDER_A

pytestmark = pytest.mark.django_db(transaction=True)

EMAILS = 5


class ProcessDied(SystemExit):
    """Raised where the process would have been killed; nothing of ours catches it, as nothing survives a kill."""


def emails():
    return [OutboundMessage(to=[f"client{n}@example.com"], subject=f"Statement {n}", text="x") for n in range(EMAILS)]


def the_sweep_runs_later():
    # The dead process's lease has run out and the rows are old enough for the sweep.
    OutboundEmail.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    EmailLogEntry.objects.update(sent_at=timezone.now() - timedelta(hours=1))
    call_command("resolve_inflight_emails", "--older-than", "15")


def left_by_the_crash():
    assert EmailLogEntry.objects.count() == EMAILS and set(EmailLogEntry.objects.values_list("status", flat=True)) == {"queued"}
    batches = set(OutboundEmail.objects.values_list("batch_id", "attempts"))
    assert len(batches) == 1 and next(iter(batches))[1] == 1  # one batch, its attempt recorded before the call


def test_a_crash_as_the_batch_call_goes_out_loses_nothing_and_sends_nothing_twice(workspace, site_provider_a):
    accepted = []

    def provider_a(request):
        if not accepted and not getattr(provider_a, "died", False):
            provider_a.died = True
            raise ProcessDied("killed while the batch call was being made")
        batch = json.loads(request.body)
        accepted.append((request.headers["Idempotency-Key"], batch))
        return 200, {}, json.dumps({"data": [{"id": f"id-{email['to'][0]}"} for email in batch]})

    with responses.RequestsMock() as provider:
        provider.add_callback(responses.POST, f"{PROVIDER_A}/emails/batch", callback=provider_a)
        send_emails(workspace, emails(), source=EmailSource.WORKFLOW_AUTOMATION)
        left_by_the_crash()
        key = f"opbox-batch-{OutboundEmail.objects.values_list('batch_id', flat=True).first()}"

        the_sweep_runs_later()

    ((resent_key, batch),) = accepted  # one call reached the provider: the same batch, under the same key
    assert resent_key == key
    assert [email["to"] for email in batch] == [[f"client{n}@example.com"] for n in range(EMAILS)]
    for entry in EmailLogEntry.objects.all():
        assert (entry.status, entry.message_id, entry.attempts) == ("delivered", f"id-{entry.to}", 2)
    assert not OutboundEmail.objects.exists()


def _die_writing_the_results(execute, sql, params, many, context):
    if sql.lstrip().upper().startswith("UPDATE") and "email_logs_emaillogentry" in sql and "status" in sql:
        raise ProcessDied("killed after the provider answered, before the results were written")
    return execute(sql, params, many, context)


def test_a_crash_after_the_batch_call_loses_nothing_and_the_provider_sends_each_email_once(workspace, site_provider_a, fake_provider):
    with connection.execute_wrapper(_die_writing_the_results):
        send_emails(workspace, emails(), source=EmailSource.WORKFLOW_AUTOMATION)
    left_by_the_crash()
    first_ids = {record["body"]["to"][0]: record["messageId"] for record in requests.get(f"{fake_provider}/_sent", timeout=5).json()}
    assert len(first_ids) == EMAILS  # the provider has them all, and we do not know it yet

    the_sweep_runs_later()

    sent = requests.get(f"{fake_provider}/_sent", timeout=5).json()
    calls = requests.get(f"{fake_provider}/_calls", timeout=5).json()
    assert [call["path"] for call in calls] == ["/a/emails/batch", "/a/emails/batch"]  # resent whole, not re-formed
    assert len(sent) == EMAILS  # each email sent once
    for entry in EmailLogEntry.objects.all():
        assert (entry.status, entry.message_id) == ("delivered", first_ids[entry.to])
    assert not OutboundEmail.objects.exists()
