"""Retries never hold a worker: while one integration's provider answers 429, the worker moves on to other
integrations' emails, and the rate-limited one is paused for every sender until its Retry-After."""

import json
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from email_logs.models import EmailLogEntry, EmailSource
from email_logs.sending.intake import send_emails
from integrations.providers import OutboundMessage

from .conftest import PROVIDER_A

pytestmark = pytest.mark.django_db(transaction=True)

LIMITED_KEY, HEALTHY_KEY = "re_LIMITED_0123456789", "re_HEALTHY_0123456789"


def emails(count: int, label: str):
    return [OutboundMessage(to=[f"{label}{n}@example.com"], subject=f"{label} {n}", text="x") for n in range(count)]


refused_at = []  # when X's provider answered 429 (the waiting tasks are timed from it, whatever the load)


def provider_a(request):
    """Integration X's account is rate limited for 30 s; Y's accepts everything."""
    if LIMITED_KEY in request.headers["Authorization"]:
        refused_at.append(timezone.now())
        body = {"statusCode": 429, "name": "rate_limit_exceeded", "message": "Too many requests."}
        return 429, {"Retry-After": "30"}, json.dumps(body)
    batch = json.loads(request.body)
    return 200, {}, json.dumps({"data": [{"id": f"id-{email['to'][0]}"} for email in batch]})


def test_while_one_integration_is_rate_limited_the_others_emails_keep_going(make_integration, workspace, settings):
    refused_at.clear()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.EMAIL_SEND_MAX_BACKOFF = 10
    limited = make_integration("EMAIL_PROVIDER", name="X", credentials={"apiKey": LIMITED_KEY})
    healthy = make_integration("EMAIL_PROVIDER", name="Y", credentials={"apiKey": HEALTHY_KEY})
    # X's emails are queued first: a worker that waited out X's 429s would reach Y's only after them.
    send_emails(workspace, emails(300, "x"), source=EmailSource.FORM_SEND, integration_id=limited.pk)
    send_emails(workspace, emails(300, "y"), source=EmailSource.FORM_SEND, integration_id=healthy.pk)

    with responses.RequestsMock() as provider:
        provider.add_callback(responses.POST, f"{PROVIDER_A}/emails/batch", callback=provider_a)
        # One worker, until nothing is due: it must not wait for X.
        call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--no-reload", "--verbosity", "0")
        calls_to_x = [call for call in provider.calls if LIMITED_KEY in call.request.headers["Authorization"]]

    assert set(EmailLogEntry.objects.filter(integration=healthy).values_list("status", flat=True)) == {"delivered"}
    # X was asked once: its 429 paused it for every sender, so its other batches did not call at all.
    assert len(calls_to_x) == 1
    x_rows = EmailLogEntry.objects.filter(integration=limited)
    assert set(x_rows.values_list("status", flat=True)) == {"queued"}
    assert sorted(set(x_rows.values_list("outbox__attempts", flat=True))) == [0, 1]  # one batch tried, two waiting
    # X's work is waiting in the queue for its time, not in a sleeping worker.
    waiting = DBTaskResult.objects.filter(status="READY", task_path="email_logs.tasks.deliver_emails")
    assert waiting.count() == 3
    # Scheduled a whole backoff (EMAIL_SEND_MAX_BACKOFF) after the 429, not taken again at once.
    assert min(waiting.values_list("run_after", flat=True)) >= refused_at[-1] + timedelta(seconds=9)
