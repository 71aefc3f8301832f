"""Batched provider calls: provider A takes up to 100 emails per POST /emails/batch, each email gets the id at
its index, a permissive per-index refusal fails only that email, and a retry resends exactly the same batch
under the same key; attachments go singly; provider B gets one call per email."""

import base64
import json
import threading
import time
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from email_logs.models import EmailLogEntry, OutboundEmail
from email_logs.sending.delivery import PARALLEL_SINGLES

from .conftest import PROVIDER_A, PROVIDER_B

pytestmark = pytest.mark.django_db(transaction=True)

BATCH_URL = f"{PROVIDER_A}/emails/batch"
DATABASE_BACKEND = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def an_email(n: int, **overrides) -> dict:
    return {"to": f"client{n}@example.com", "subject": f"Statement {n}", "text": "Attached.", **overrides}


def with_attachment(n: int) -> dict:
    return an_email(n, attachments=[{"filename": f"statement-{n}.pdf", "content": base64.b64encode(b"%PDF").decode()}])


def post_batch(api, emails):
    return api.post("/api/emails/batch", {"emails": emails}, format="json")


def batch_answer(refuse=()):
    """A Resend batch endpoint: ids in request order (`id-<to>`); the recipients in `refuse` refused by index."""

    def answer(request):
        emails = json.loads(request.body)
        errors = [{"index": i, "message": "The `to` field is invalid."} for i, e in enumerate(emails) if e["to"][0] in refuse]
        refused = {error["index"] for error in errors}
        data = [{"id": f"id-{email['to'][0]}"} for i, email in enumerate(emails) if i not in refused]
        return 200, {}, json.dumps({"data": data, "errors": errors})

    return answer


def batch_calls(provider):
    return [call for call in provider.calls if call.request.url == BATCH_URL]


def run_workers():
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay", "--no-reload", "--verbosity", "0")


def test_250_emails_go_out_in_three_batch_calls_each_row_with_the_id_at_its_index(member_api, site_provider_a, provider):
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())

    response = post_batch(member_api, [an_email(n) for n in range(250)])

    assert response.status_code == 200  # inline: the final rows
    calls = batch_calls(provider)
    assert [len(json.loads(call.request.body)) for call in calls] == [100, 100, 50]
    assert len(provider.calls) == 3
    for call in calls:
        assert call.request.headers["x-batch-validation"] == "permissive"
        assert call.request.headers["Idempotency-Key"].startswith("opbox-batch-")
    assert len({call.request.headers["Idempotency-Key"] for call in calls}) == 3
    rows = response.json()["results"]
    assert [row["values"]["Message ID"] for row in rows] == [f"id-client{n}@example.com" for n in range(250)]
    assert {row["values"]["Status"] for row in rows} == {"delivered"}
    assert not OutboundEmail.objects.exists()
    assert set(EmailLogEntry.objects.values_list("attempts", flat=True)) == {1}


def test_on_workers_the_batches_are_formed_from_the_queued_emails(member_api, site_provider_a, provider, settings):
    settings.TASKS = DATABASE_BACKEND
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())

    assert post_batch(member_api, [an_email(n) for n in range(250)]).status_code == 202
    assert not provider.calls
    run_workers()

    assert [len(json.loads(call.request.body)) for call in batch_calls(provider)] == [100, 100, 50]
    for entry in EmailLogEntry.objects.all():
        assert (entry.status, entry.message_id) == ("delivered", f"id-{entry.to}")


def test_a_permissive_refusal_of_one_index_fails_only_that_email(member_api, site_provider_a, provider):
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer(refuse={"client3@example.com"}))

    rows = post_batch(member_api, [an_email(n) for n in range(6)]).json()["results"]

    statuses = [(row["values"]["Status"], row["values"]["Message ID"]) for row in rows]
    assert statuses == [("delivered", f"id-client{n}@example.com") if n != 3 else ("failed", "") for n in range(6)]
    assert "The `to` field is invalid." in rows[3]["values"]["Error"]
    assert len(provider.calls) == 1


def test_a_batch_answer_that_does_not_match_its_emails_fails_them_all_with_the_reason(member_api, site_provider_a, provider):
    provider.add(responses.POST, BATCH_URL, json={"data": [{"id": "only-one"}]})

    rows = post_batch(member_api, [an_email(n) for n in range(3)]).json()["results"]

    assert {row["values"]["Status"] for row in rows} == {"failed"}
    assert "unexpected answer" in rows[0]["values"]["Error"]


def test_a_5xx_is_retried_later_with_the_same_key_and_the_same_members_without_holding_the_worker(
    member_api, site_provider_a, provider, settings
):
    settings.TASKS = DATABASE_BACKEND
    settings.EMAIL_SEND_MAX_BACKOFF = 30
    provider.add(responses.POST, BATCH_URL, status=503, json={"name": "internal_server_error"}, headers={"Retry-After": "20"})
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())
    post_batch(member_api, [an_email(n) for n in range(5)])

    run_workers()  # returns at once: the retry is a task due in 20 s, not a worker asleep

    assert len(provider.calls) == 1
    assert set(EmailLogEntry.objects.values_list("status", flat=True)) == {"queued"}
    retry = DBTaskResult.objects.get(status="READY")
    assert timedelta(seconds=15) < retry.run_after - timezone.now() <= timedelta(seconds=20)

    DBTaskResult.objects.filter(pk=retry.pk).update(run_after=timezone.now())  # its time has come
    run_workers()

    first, second = batch_calls(provider)
    assert first.request.headers["Idempotency-Key"] == second.request.headers["Idempotency-Key"]
    assert json.loads(first.request.body) == json.loads(second.request.body)
    for entry in EmailLogEntry.objects.all():
        assert (entry.status, entry.message_id, entry.attempts) == ("delivered", f"id-{entry.to}", 2)


def test_inline_a_5xx_is_retried_at_once_with_the_same_key_and_members(member_api, site_provider_a, provider):
    provider.add(responses.POST, BATCH_URL, status=500, json={"name": "internal_server_error"})
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())

    rows = post_batch(member_api, [an_email(n) for n in range(4)]).json()["results"]

    first, second = batch_calls(provider)
    assert first.request.headers["Idempotency-Key"] == second.request.headers["Idempotency-Key"]
    assert first.request.body == second.request.body
    assert {row["values"]["Status"] for row in rows} == {"delivered"}


def test_emails_with_attachments_go_singly_beside_the_batch(member_api, site_provider_a, provider):
    provider.add_callback(responses.POST, BATCH_URL, callback=batch_answer())
    provider.add_callback(
        responses.POST, f"{PROVIDER_A}/emails",
        callback=lambda request: (200, {}, json.dumps({"id": f"single-{json.loads(request.body)['to'][0]}"})),
    )  # fmt: skip

    rows = post_batch(member_api, [an_email(0), with_attachment(1), an_email(2), with_attachment(3)]).json()["results"]

    (batch,) = batch_calls(provider)
    assert [email["to"] for email in json.loads(batch.request.body)] == [["client0@example.com"], ["client2@example.com"]]
    singles = [call for call in provider.calls if call.request.url == f"{PROVIDER_A}/emails"]
    assert len(singles) == 2
    assert all(json.loads(call.request.body)["attachments"] for call in singles)
    assert {call.request.headers["Idempotency-Key"] for call in singles} == {
        f"opbox-email-{rows[1]['id']}", f"opbox-email-{rows[3]['id']}"
    }
    assert [row["values"]["Message ID"] for row in rows] == [
        "id-client0@example.com", "single-client1@example.com", "id-client2@example.com", "single-client3@example.com",
    ]  # fmt: skip


def test_provider_b_gets_one_call_per_email(member_api, provider_b, provider):
    sent = iter(range(100))
    provider.add_callback(
        responses.POST, f"{PROVIDER_B}/v3/mail/send", callback=lambda request: (202, {"X-Message-Id": f"sg-{next(sent)}"}, "")
    )

    rows = post_batch(member_api, [an_email(n, integrationId=provider_b.pk) for n in range(7)]).json()["results"]

    assert len(provider.calls) == 7
    assert all(len(json.loads(call.request.body)["personalizations"]) == 1 for call in provider.calls)
    assert sorted(row["values"]["Message ID"] for row in rows) == sorted(f"sg-{n}" for n in range(7))
    assert {row["values"]["Status"] for row in rows} == {"delivered"}


class OverlapCounter:
    """A SendGrid `mail/send` that takes a moment to answer and counts how many calls are under way at once."""

    def __init__(self, seconds=0.05):
        self.lock, self.seconds = threading.Lock(), seconds
        self.in_flight = self.most = self.sent = 0

    def __call__(self, request):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
            self.sent += 1
            message_id = f"sg-{self.sent}"
        time.sleep(self.seconds)  # the provider's answer takes a while: calls made at once overlap here
        with self.lock:
            self.in_flight -= 1
        return 202, {"X-Message-Id": message_id}, ""


def test_on_workers_provider_b_still_gets_one_call_per_email_a_few_at_once(member_api, provider_b, provider, settings):
    settings.TASKS = DATABASE_BACKEND
    overlap = OverlapCounter()
    provider.add_callback(responses.POST, f"{PROVIDER_B}/v3/mail/send", callback=overlap)
    post_batch(member_api, [an_email(n, integrationId=provider_b.pk) for n in range(30)])

    run_workers()

    recipients = sorted(json.loads(call.request.body)["personalizations"][0]["to"][0]["email"] for call in provider.calls)
    assert recipients == sorted(f"client{n}@example.com" for n in range(30))  # each once, alone
    assert set(EmailLogEntry.objects.values_list("status", "attempts")) == {("delivered", 1)}
    assert len(set(EmailLogEntry.objects.values_list("message_id", flat=True))) == 30
    # A few at once, and no more than the worker's bound: the calls overlapped, up to PARALLEL_SINGLES of them.
    assert 1 < overlap.most <= PARALLEL_SINGLES, overlap.most
