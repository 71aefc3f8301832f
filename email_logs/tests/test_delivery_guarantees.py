"""The guarantees delivery rests on, checked where they can fail (issue 10, items 6-9): the waits between
attempts (recorded, not slept), an attempt committed before its call (read from another connection during
the call), the sweep honouring live leases, and the paths from a queued row to a final one."""

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import responses
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from email_logs import tasks
from email_logs.models import EmailLogEntry, EmailSource, EmailStatus, OutboundEmail, SendFailure
from email_logs.sending import claims, delivery
from email_logs.sending.intake import send_email, send_emails
from email_logs.sending.recovery import resolve_inflight_emails
from integrations.models import Integration, IntegrationPace
from integrations.providers import OutboundMessage

from .conftest import KEY_B, PROVIDER_A, PROVIDER_B, resend_accepts, sendgrid_accepts

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, seen by other connections

SEND_A, BATCH_A, SEND_B = f"{PROVIDER_A}/emails", f"{PROVIDER_A}/emails/batch", f"{PROVIDER_B}/v3/mail/send"
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
DUMMY_TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


def an_email(**overrides):
    return OutboundMessage(**({"to": ["client@example.com"], "subject": "Signed", "text": "Done"} | overrides))


def run_worker():
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")


def pending_deliveries():
    return list(DBTaskResult.objects.filter(task_path=tasks.deliver_emails.module_path, status="READY"))


class RecordedSleep:
    """The stdlib `time` as the delivery module sees it, except that `sleep` records the wait and returns."""

    def __init__(self):
        self.waits = []

    def sleep(self, seconds):
        self.waits.append(seconds)

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def waits(monkeypatch, settings):
    settings.EMAIL_SEND_MAX_BACKOFF = 60  # the autouse no_backoff fixture's 0 would skip the code under test
    clock = RecordedSleep()
    monkeypatch.setattr(delivery, "time", clock)
    return clock.waits


def exponential_bounds(attempt):
    """The wait after failed attempt `attempt` (1-based): half to all of 0.5 s doubled per attempt."""
    full = 0.5 * 2 ** (attempt - 1)
    return full / 2, full


# Item 6: backoff, inline (recorded sleeps) --------------------------------------------------------


def test_retry_after_of_7_seconds_is_waited_exactly(workspace, site_provider_a, provider, waits):
    provider.add(responses.POST, SEND_A, status=429, json={"name": "rate_limit_exceeded"}, headers={"Retry-After": "7"})
    resend_accepts(provider, "after-7s")

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)

    assert (entry.status, entry.message_id, entry.attempts) == (EmailStatus.DELIVERED, "after-7s", 2)
    assert waits == [7.0]


def test_a_huge_retry_after_is_capped_at_the_maximum_backoff_and_pauses_the_integration(
    workspace, site_provider_a, provider, waits
):
    provider.add(responses.POST, SEND_A, status=429, json={"name": "rate_limit_exceeded"}, headers={"Retry-After": "9999999"})
    resend_accepts(provider)
    before = timezone.now()

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)

    assert entry.status == EmailStatus.DELIVERED
    assert waits == [60.0]
    # The rest of the Retry-After holds the integration's other sends, up to pacing's own cap of an hour.
    paused_until = IntegrationPace.objects.get(integration_id=site_provider_a.pk).paused_until
    assert before + timedelta(seconds=3600) <= paused_until <= timezone.now() + timedelta(seconds=3600)


@pytest.mark.parametrize("url,accepts", [(SEND_A, resend_accepts), (SEND_B, sendgrid_accepts)], ids=["provider-a", "provider-b"])
def test_successive_5xx_waits_grow_exponentially_with_jitter(workspace, site_provider_a, provider_b, provider, waits, settings, url, accepts):
    settings.EMAIL_SEND_MAX_ATTEMPTS = 6
    for _ in range(5):
        provider.add(responses.POST, url, status=503, body="upstream down")
    accepts(provider)
    integration = site_provider_a if url == SEND_A else provider_b

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=integration.pk)

    assert (entry.status, entry.attempts, len(provider.calls)) == (EmailStatus.DELIVERED, 6, 6)
    assert len(waits) == 5
    for attempt, wait in enumerate(waits, start=1):
        low, high = exponential_bounds(attempt)
        assert low <= wait <= high, (attempt, waits)


# Item 6: backoff on a worker (the retry's run_after) ----------------------------------------------


def retry_delays(max_runs):
    """Run the worker until the email settles, letting the time each retry waits for pass (its run_after,
    and the pause a 429 set); the delay each retry was scheduled with (run_after less enqueued_at)."""
    delays = []
    for _ in range(max_runs):
        run_worker()
        pending = pending_deliveries()
        if not pending:
            return delays
        (retry,) = pending
        delays.append((retry.run_after - retry.enqueued_at).total_seconds())
        now = timezone.now()
        DBTaskResult.objects.filter(pk=retry.pk).update(run_after=now)
        IntegrationPace.objects.filter(paused_until__gt=now).update(paused_until=now)
    return delays


def test_on_a_worker_a_retry_after_of_7_seconds_schedules_the_retry_7_seconds_on(workspace, site_provider_a, provider, settings):
    settings.TASKS, settings.EMAIL_SEND_MAX_BACKOFF = DATABASE_TASKS, 60
    provider.add(responses.POST, SEND_A, status=429, json={"name": "rate_limit_exceeded"}, headers={"Retry-After": "7"})
    resend_accepts(provider, "retried-on-worker")
    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)

    delays = retry_delays(3)

    assert len(delays) == 1 and 7 - 0.2 <= delays[0] <= 7, delays
    entry.refresh_from_db()
    assert (entry.status, entry.message_id, entry.attempts) == (EmailStatus.DELIVERED, "retried-on-worker", 2)


def test_on_a_worker_a_huge_retry_after_is_capped(workspace, site_provider_a, provider, settings):
    settings.TASKS, settings.EMAIL_SEND_MAX_BACKOFF = DATABASE_TASKS, 60
    provider.add(responses.POST, SEND_A, status=429, json={"name": "rate_limit_exceeded"}, headers={"Retry-After": "9999999"})
    send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)

    run_worker()

    (retry,) = pending_deliveries()
    assert 60 - 0.2 <= (retry.run_after - retry.enqueued_at).total_seconds() <= 60
    paused_until = IntegrationPace.objects.get(integration_id=site_provider_a.pk).paused_until
    assert paused_until <= timezone.now() + timedelta(seconds=3600)
    assert len(provider.calls) == 1


def test_on_a_worker_successive_5xx_retries_are_scheduled_exponentially_later(workspace, provider_b, provider, settings):
    settings.TASKS, settings.EMAIL_SEND_MAX_BACKOFF, settings.EMAIL_SEND_MAX_ATTEMPTS = DATABASE_TASKS, 60, 5
    for _ in range(4):
        provider.add(responses.POST, SEND_B, status=503, body="upstream down")
    sendgrid_accepts(provider)
    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=provider_b.pk)

    delays = retry_delays(8)

    assert len(delays) == 4, delays
    for attempt, delay in enumerate(delays, start=1):
        low, high = exponential_bounds(attempt)
        assert low - 0.1 <= delay <= high, (attempt, delays)
    entry.refresh_from_db()
    assert (entry.status, entry.attempts, len(provider.calls)) == (EmailStatus.DELIVERED, 5, 5)


# Item 7: the attempt is committed before the call that carries it ---------------------------------


def committed_attempts(entry_ids=None):
    """`attempts` of the outbox records as another connection sees them (committed data only)."""

    def read():
        try:
            rows = OutboundEmail.objects.order_by("entry__created_at", "pk")
            if entry_ids is not None:
                rows = rows.filter(pk__in=entry_ids)
            return list(rows.values_list("attempts", flat=True))
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result()


def scripted(answers, seen, reference=None):
    """A responses callback giving `answers` in turn, noting the committed attempts during each call."""
    answers = iter(answers)

    def callback(request):
        ids = [json.loads(request.body)["custom_args"]["opbox_email_id"]] if reference else None
        seen.append(committed_attempts(ids))
        return next(answers)

    return callback


def test_each_attempt_is_committed_before_its_provider_a_call(workspace, site_provider_a, provider):
    seen = []
    answers = [(503, {}, "down"), (503, {}, "down"), (200, {}, json.dumps({"id": "third-time"}))]
    provider.add_callback(responses.POST, SEND_A, callback=scripted(answers, seen))

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)

    assert seen == [[1], [2], [3]]
    assert (entry.status, entry.attempts) == (EmailStatus.DELIVERED, 3)


def test_each_attempt_is_committed_before_its_provider_b_call(workspace, provider_b, provider):
    seen = []
    answers = [(503, {}, "down"), (202, {"X-Message-Id": "second-time"}, "")]
    provider.add_callback(responses.POST, SEND_B, callback=scripted(answers, seen, reference=True))

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=provider_b.pk)

    assert seen == [[1], [2]]
    assert (entry.status, entry.attempts) == (EmailStatus.DELIVERED, 2)


def test_a_batch_call_finds_every_members_attempt_committed(workspace, site_provider_a, provider):
    seen = []
    accepted = json.dumps({"data": [{"id": "first"}, {"id": "second"}]})
    provider.add_callback(responses.POST, BATCH_A, callback=scripted([(503, {}, "down"), (200, {}, accepted)], seen))

    entries = send_emails(workspace, [an_email(), an_email(to=["other@example.com"])], source=EmailSource.MATTER_STEP)

    assert seen == [[1, 1], [2, 2]]
    assert [(e.status, e.attempts) for e in entries] == [(EmailStatus.DELIVERED, 2)] * 2


def test_on_a_worker_singles_sent_at_once_each_find_their_attempt_committed(workspace, provider_b, provider, settings):
    settings.TASKS = DATABASE_TASKS
    seen = []
    answers = [(202, {"X-Message-Id": f"sent-{i}"}, "") for i in range(3)]
    provider.add_callback(responses.POST, SEND_B, callback=scripted(answers, seen, reference=True))
    emails = [an_email(to=[f"client{i}@example.com"]) for i in range(3)]
    entries = send_emails(workspace, emails, source=EmailSource.MATTER_STEP, integration_id=provider_b.pk)

    run_worker()

    assert seen == [[1], [1], [1]]
    assert set(EmailLogEntry.objects.filter(pk__in=[e.pk for e in entries]).values_list("status", flat=True)) == {EmailStatus.DELIVERED}


# Item 8: the in-flight sweep and live leases --------------------------------------------------------


def crashed_mid_send(settings, workspace, integration):
    """A queued row logged an hour ago whose send was never settled (no task ran it: the process died)."""
    settings.TASKS = DUMMY_TASKS
    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=integration.pk)
    EmailLogEntry.objects.filter(pk=entry.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    return entry


def attempted(entry, seconds_ago):
    """Its one attempt was recorded `seconds_ago`, leased as delivery leases it."""
    at = timezone.now() - timedelta(seconds=seconds_ago)
    OutboundEmail.objects.filter(pk=entry.pk).update(attempts=1, last_attempt_at=at, lease_expires_at=at + claims.lease_length())


def test_the_sweep_leaves_a_provider_b_email_under_a_live_lease_then_fails_it_once_expired(settings, workspace, provider_b, provider):
    sendgrid_accepts(provider)
    entry = crashed_mid_send(settings, workspace, provider_b)
    attempted(entry, seconds_ago=5)  # its sender may still be waiting for the provider's answer

    assert resolve_inflight_emails() == {"resent": 0, "marked_failed": 0}
    entry.refresh_from_db()
    assert entry.status == EmailStatus.QUEUED and OutboundEmail.objects.filter(pk=entry.pk).exists()

    attempted(entry, seconds_ago=claims.lease_length().total_seconds() + 5)  # that sender is gone

    assert resolve_inflight_emails() == {"resent": 0, "marked_failed": 1}
    entry.refresh_from_db()
    assert entry.status == EmailStatus.FAILED and "interrupted" in entry.error
    assert entry.failure == SendFailure.INTERRUPTED
    assert not provider.calls


def test_the_sweep_leaves_a_provider_a_email_under_a_live_lease_then_resends_it_once_expired(settings, workspace, site_provider_a, provider):
    resend_accepts(provider, "resent-after-lease")
    entry = crashed_mid_send(settings, workspace, site_provider_a)
    attempted(entry, seconds_ago=5)

    assert resolve_inflight_emails() == {"resent": 0, "marked_failed": 0}
    assert not provider.calls

    attempted(entry, seconds_ago=claims.lease_length().total_seconds() + 5)

    assert resolve_inflight_emails() == {"resent": 1, "marked_failed": 0}
    entry.refresh_from_db()
    assert (entry.status, entry.message_id, entry.attempts) == (EmailStatus.DELIVERED, "resent-after-lease", 2)
    assert [call.request.headers["Idempotency-Key"] for call in provider.calls] == [f"opbox-email-{entry.pk}"]


# Item 9: paths with no test before ----------------------------------------------------------------


def test_provider_b_retries_a_503_through_send_email(workspace, provider_b, provider):
    provider.add(responses.POST, SEND_B, status=503, body="upstream down")
    sendgrid_accepts(provider, "after-a-503")

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=provider_b.pk)

    assert (entry.status, entry.message_id, entry.attempts, len(provider.calls)) == (EmailStatus.DELIVERED, "after-a-503", 2, 2)


def test_credentials_sealed_under_a_dropped_key_leave_a_failed_row_naming_the_key(workspace, provider_b, provider, settings):
    sendgrid_accepts(provider)
    settings.OPBOX_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(b"a-brand-new-key-of-32-bytes-long").decode()]

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=provider_b.pk)

    entry.refresh_from_db()
    assert entry.status == EmailStatus.FAILED and "OPBOX_ENCRYPTION_KEYS" in entry.error
    assert entry.failure == SendFailure.CREDENTIALS
    assert KEY_B not in entry.error
    assert not provider.calls and not OutboundEmail.objects.exists()


def test_an_answer_our_code_cannot_handle_leaves_a_failed_row_and_is_not_retried(workspace, site_provider_a, provider):
    def below_the_client(request):  # an exception the provider client maps to nothing, as a bug there would raise
        raise LookupError("unexpected")

    provider.add_callback(responses.POST, SEND_A, callback=below_the_client)

    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)

    assert (entry.status, entry.error, entry.failure) == (EmailStatus.FAILED, delivery.INTERNAL_ERROR, SendFailure.INTERNAL)
    assert len(provider.calls) == 1 and not OutboundEmail.objects.exists()


def disable(integration):
    # Disabled, not deleted (a site email provider gives up that role first: a database constraint).
    Integration.objects.filter(pk=integration.pk).update(enabled=False, is_site_email_provider=False)


def test_an_integration_disabled_before_its_queued_send_runs_on_a_worker_fails_the_row(workspace, site_provider_a, provider, settings):
    settings.TASKS = DATABASE_TASKS
    resend_accepts(provider)
    entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP)
    disable(site_provider_a)

    run_worker()

    entry.refresh_from_db()
    assert entry.status == EmailStatus.FAILED and "disabled" in entry.error
    assert entry.failure == SendFailure.UNAVAILABLE
    assert not provider.calls and not OutboundEmail.objects.exists()


def test_an_integration_disabled_before_the_senders_commit_fails_the_row(workspace, provider_b, provider):
    sendgrid_accepts(provider)
    with transaction.atomic():
        entry = send_email(workspace, an_email(), source=EmailSource.MATTER_STEP, integration_id=provider_b.pk)
        disable(provider_b)

    entry.refresh_from_db()
    assert entry.status == EmailStatus.FAILED and "disabled" in entry.error
    assert not provider.calls


def post(api, **body):
    return api.post("/api/emails", {"to": "client@example.com", "subject": "Documents", "text": "Hi", **body}, format="json")


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
def test_fifty_recipients_per_field_are_sent_and_fifty_one_refused(member_api, site_provider_a, provider, field):
    resend_accepts(provider)
    addresses = [f"person{i}@example.com" for i in range(51)]

    refused = post(member_api, **{field: addresses})
    assert refused.status_code == 400 and field in refused.json()
    assert not EmailLogEntry.objects.exists() and not provider.calls

    sent = post(member_api, **{field: addresses[:50]})
    assert sent.status_code == 201 and sent.json()["values"]["Status"] == "delivered"
    assert len(json.loads(provider.calls[0].request.body)[field]) == 50


def test_a_998_character_subject_is_sent_and_999_refused(member_api, site_provider_a, provider):
    resend_accepts(provider)

    refused = post(member_api, subject="s" * 999)
    assert refused.status_code == 400 and "subject" in refused.json()
    assert not EmailLogEntry.objects.exists() and not provider.calls

    sent = post(member_api, subject="s" * 998)
    assert sent.status_code == 201
    assert json.loads(provider.calls[0].request.body)["subject"] == "s" * 998


def test_an_unknown_source_is_refused_and_nothing_is_written(workspace, site_provider_a, provider):
    with pytest.raises(ValidationError) as refused:
        send_email(workspace, an_email(), source="newsletter")

    assert "source" in refused.value.message_dict
    assert not EmailLogEntry.objects.exists() and not provider.calls


FILE = bytes(range(256)) * 3 + b"\x00\r\n\xff end"  # every byte value, line breaks and NULs included


@pytest.mark.parametrize(
    "which,accepts,type_key", [("a", resend_accepts, "content_type"), ("b", sendgrid_accepts, "type")], ids=["provider-a", "provider-b"]
)
def test_attachment_bytes_reach_the_provider_unchanged(member_api, site_provider_a, provider_b, provider, which, accepts, type_key):
    accepts(provider)
    integration = site_provider_a if which == "a" else provider_b
    attachment = {"filename": "deed.pdf", "contentType": "application/pdf", "content": base64.b64encode(FILE).decode()}

    response = post(member_api, integrationId=integration.pk, attachments=[attachment])

    assert response.status_code == 201 and response.json()["values"]["Attachments"] == 1
    (sent,) = json.loads(provider.calls[0].request.body)["attachments"]
    assert base64.b64decode(sent["content"], validate=True) == FILE
    assert (sent["filename"], sent[type_key]) == ("deed.pdf", "application/pdf")
