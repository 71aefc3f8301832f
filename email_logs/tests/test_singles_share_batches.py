"""Singles share batches: on a worker, a batching integration's call carries up to `batch_size` of its oldest
queued, never-attempted, attachment-free emails, whichever request queued them; the tasks that find their
emails taken end at once, and a paced integration's waiting senders do not reserve turns that those already
reserved would make needless (email_logs/sending/delivery.py, claims.py)."""

import json
from datetime import timedelta

import pytest
import responses
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from email_logs.models import EmailLogEntry, OutboundEmail
from integrations import pacing
from integrations.models import IntegrationPace

from .conftest import PROVIDER_A
from .test_batched_delivery import BATCH_URL, DATABASE_BACKEND, an_email, batch_answer, batch_calls, run_workers, with_attachment

pytestmark = pytest.mark.django_db(transaction=True)

SINGLE_URL = f"{PROVIDER_A}/emails"


def send_one_per_request(api, emails):
    for email in emails:
        assert api.post("/api/emails", email, format="json").status_code == 202


def test_singles_queued_one_per_request_share_batch_calls(member_api, site_provider_a, provider, settings):
    settings.TASKS = DATABASE_BACKEND
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())

    send_one_per_request(member_api, [an_email(n) for n in range(120)])
    run_workers()

    calls = batch_calls(provider)
    assert [len(json.loads(call.request.body)) for call in calls] == [100, 20]
    assert len(provider.calls) == 2  # no email went alone
    assert len({call.request.headers["Idempotency-Key"] for call in calls}) == 2
    sent = [email["to"][0] for call in calls for email in json.loads(call.request.body)]
    assert sorted(sent) == sorted(f"client{n}@example.com" for n in range(120))  # each email once
    for entry in EmailLogEntry.objects.all():
        assert (entry.status, entry.message_id, entry.attempts) == ("delivered", f"id-{entry.to}", 1)
    assert not OutboundEmail.objects.exists()
    tasks = DBTaskResult.objects.filter(task_path="email_logs.tasks.deliver_emails")
    assert tasks.count() == 120 and set(tasks.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_an_email_with_attachments_is_never_carried_by_a_batch(member_api, site_provider_a, provider, settings):
    settings.TASKS = DATABASE_BACKEND
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())
    provider.add(responses.POST, SINGLE_URL, json={"id": "alone"})

    send_one_per_request(member_api, [an_email(0), with_attachment(1), an_email(2)])
    run_workers()

    assert [[e["to"][0] for e in json.loads(c.request.body)] for c in batch_calls(provider)] == [
        ["client0@example.com", "client2@example.com"]
    ]
    alone = [call for call in provider.calls if call.request.url == SINGLE_URL]
    assert [json.loads(call.request.body)["to"] for call in alone] == [["client1@example.com"]]
    assert set(EmailLogEntry.objects.values_list("status", flat=True)) == {"delivered"}


def test_waiting_singles_leave_their_emails_to_the_turns_already_reserved(member_api, site_provider_a, provider, settings):
    settings.TASKS = DATABASE_BACKEND
    settings.EMAIL_PROVIDER_A_REQUESTS_PER_SECOND = RATE = 0.1  # a turn every 10 s: the reserved one stays ahead
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())
    integration = site_provider_a.pk
    assert pacing.take_turn(integration, RATE) is None  # a call just went
    reserved = pacing.reserve(integration, RATE)  # and a sender waits for the next turn
    next_free = IntegrationPace.objects.get(pk=integration).next_slot_at

    send_one_per_request(member_api, [an_email(n) for n in range(30)])
    run_workers()  # each task finds the waiting sender's turn enough for every queued email

    assert not provider.calls
    assert IntegrationPace.objects.get(pk=integration).next_slot_at == next_free  # no turn reserved for nothing
    waiting = DBTaskResult.objects.filter(task_path="email_logs.tasks.deliver_emails", status="READY")
    assert waiting.count() == 30
    assert {task.args_kwargs["kwargs"].get("slot") for task in waiting} == {None}  # they hold no turn
    assert {task.run_after for task in waiting} == {next_free}  # they come back after the reserved ones

    # The turns free up: the first task back takes one and carries all thirty; the others find theirs taken.
    IntegrationPace.objects.filter(pk=integration).update(last_call_at=reserved - timedelta(seconds=20), next_slot_at=None)
    waiting.update(run_after=timezone.now())
    run_workers()

    assert [len(json.loads(call.request.body)) for call in batch_calls(provider)] == [30]
    assert set(EmailLogEntry.objects.values_list("status", flat=True)) == {"delivered"}
    assert set(DBTaskResult.objects.filter(task_path="email_logs.tasks.deliver_emails").values_list("status", flat=True)) == {"SUCCESSFUL"}
