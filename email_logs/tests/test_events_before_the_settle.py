"""A provider reports on an email while its sender is still waiting for the provider's answer: the event is
applied by another connection between the claim and the settle, and the settle must not write over it
(issue 18, items 1 and 2). Real commits on PostgreSQL, the webhook on a connection of its own."""

import json
import queue
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import responses
from django.db import connections
from django.test import Client

from email_logs.models import EmailEvent, EmailLogEntry, EmailSource, EmailStatus, OutboundEmail, Suppression
from email_logs.sending import delivery
from email_logs.sending.intake import send_email, send_emails
from integrations.providers import OutboundMessage
from opbox.testing import race

from .conftest import PROVIDER_A, PROVIDER_B
from .signing import RESEND_SECRET, as_body, resend_event, resend_headers, sendgrid_event
from .webhook_helpers import post_webhook, webhook_path

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

UNKNOWN_USER = "550 5.1.1 mailbox unavailable"


def on_another_connection(action):
    """Run `action` on a thread of its own (so on a database connection of its own); its commits are real."""

    def run():
        try:
            return action()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def an_email(*to):
    return OutboundMessage(to=list(to), subject="Your documents", text="Attached.")


def sendgrid_hook(integration, signer, events):
    body = as_body(events)
    response = on_another_connection(lambda: post_webhook(Client(), webhook_path(integration), body, signer.headers(body)))
    assert response.status_code == 200, response.content
    return response.json()


def sendgrid_answers_after(events_for, integration, signer, message_id="sg-accepted"):
    """A SendGrid `mail/send` that, before it answers 202, has SendGrid's webhook deliver `events_for(row id)`."""

    def callback(request):
        row_id = json.loads(request.body)["custom_args"]["opbox_email_id"]
        assert sendgrid_hook(integration, signer, events_for(row_id))["applied"] == len(events_for(row_id))
        return 202, {"X-Message-Id": message_id}, ""

    return callback


def bounce(row_id, email, event_id="ev-bounce"):
    return sendgrid_event("bounce", event_id, email=email, row_id=row_id, type="bounce", reason=UNKNOWN_USER)


def row_of(entry):
    return EmailLogEntry.objects.values("status", "error", "message_id").get(pk=entry.pk)


# Item 1: the settle and an event applied before it ------------------------------------------------------------


def test_a_bounce_applied_between_the_claim_and_the_settle_leaves_the_row_failed_with_its_reason(
    workspace, hooked_b, signer, provider
):
    provider.add_callback(
        responses.POST, f"{PROVIDER_B}/v3/mail/send",
        callback=sendgrid_answers_after(lambda row_id: [bounce(row_id, "ada@example.com")], hooked_b, signer),
    )  # fmt: skip

    entry = send_email(workspace, an_email("ada@example.com"), source=EmailSource.FORM_SEND, integration_id=hooked_b.pk)

    assert row_of(entry) == {
        "status": EmailStatus.FAILED,
        "error": f"Bounced: ada@example.com - {UNKNOWN_USER} (type: bounce)",
        "message_id": "sg-accepted",  # what the provider answered is kept beside the bounce
    }
    assert not OutboundEmail.objects.exists()


def test_a_partial_bounce_applied_before_the_settle_keeps_its_note_beside_the_delivery(workspace, hooked_b, signer, provider):
    provider.add_callback(
        responses.POST, f"{PROVIDER_B}/v3/mail/send",
        callback=sendgrid_answers_after(lambda row_id: [bounce(row_id, "bob@example.com")], hooked_b, signer),
    )  # fmt: skip

    entry = send_email(
        workspace, an_email("ada@example.com", "bob@example.com"), source=EmailSource.FORM_SEND, integration_id=hooked_b.pk
    )

    assert row_of(entry) == {
        "status": EmailStatus.DELIVERED,
        "error": f"Bounced: bob@example.com - {UNKNOWN_USER} (type: bounce)",
        "message_id": "sg-accepted",
    }



# Item 2: provider A's events before the settle find the row by its tag -----------------------------------------


def resend_answers_after(kind, integration, answers, message_id="re-accepted", **data):
    """A Resend `POST /emails` that, before it answers, has Resend's webhook deliver a `kind` event naming the
    email as Resend does: by its own id (not yet on the row) and the tags the send carried. The webhook's
    answers go to `answers`."""

    def callback(request):
        body = resend_event(kind, message_id, tags=json.loads(request.body).get("tags", []), **data)
        response = on_another_connection(
            lambda: post_webhook(Client(), webhook_path(integration), body, resend_headers(RESEND_SECRET, body))
        )
        answers.append((response.status_code, response.json()))
        return 200, {}, json.dumps({"id": message_id})

    return callback


APPLIED = (200, {"received": 1, "applied": 1, "duplicates": 0, "unmatched": 0})


def test_a_resend_bounce_before_the_settle_fails_the_row_and_suppresses_the_recipient(workspace, hooked_a, provider):
    answers = []
    provider.add_callback(
        responses.POST, f"{PROVIDER_A}/emails",
        callback=resend_answers_after("email.bounced", hooked_a, answers, bounce={"message": UNKNOWN_USER, "type": "Permanent"}),
    )  # fmt: skip

    entry = send_email(workspace, an_email("ada@example.com"), source=EmailSource.FORM_SEND, integration_id=hooked_a.pk)

    assert answers == [APPLIED]
    assert row_of(entry) == {
        "status": EmailStatus.FAILED,
        "error": f"Bounced: ada@example.com - {UNKNOWN_USER} (Permanent)",
        "message_id": "re-accepted",
    }
    assert list(Suppression.objects.values_list("address", "reason", "entry_id")) == [("ada@example.com", "bounced", entry.pk)]


def test_a_resend_complaint_before_the_settle_suppresses_the_recipient(workspace, hooked_a, provider):
    answers = []
    provider.add_callback(responses.POST, f"{PROVIDER_A}/emails", callback=resend_answers_after("email.complained", hooked_a, answers))

    entry = send_email(workspace, an_email("ada@example.com"), source=EmailSource.FORM_SEND, integration_id=hooked_a.pk)

    assert answers == [APPLIED]
    assert row_of(entry)["status"] == EmailStatus.DELIVERED
    assert list(EmailEvent.objects.values_list("entry_id", "type")) == [(entry.pk, "complained")]
    assert list(Suppression.objects.values_list("address", "reason")) == [("ada@example.com", "complained")]


# Racing: the webhook and the settles at the same time --------------------------------------------------------------


def test_bounces_racing_the_settles_of_twenty_emails_leave_every_row_failed(workspace, hooked_b, signer, provider, settings):
    """Twenty emails go out one by one while SendGrid's webhook, on another connection, reports each one's bounce
    as soon as SendGrid has it: some bounces land before their row's settle, some after. Every row must end
    failed with its reason, whichever came first."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # sent below, by hand
    accepted = queue.Queue()

    def answer(request):
        row_id = json.loads(request.body)["custom_args"]["opbox_email_id"]
        accepted.put(row_id)
        time.sleep(0.05)  # SendGrid answers in a while: results wait a moment before they are written together
        return 202, {"X-Message-Id": f"sg-{row_id}"}, ""

    provider.add_callback(responses.POST, f"{PROVIDER_B}/v3/mail/send", callback=answer)
    emails = [an_email(f"client{n}@example.com") for n in range(20)]
    rows = send_emails(workspace, emails, source=EmailSource.FORM_SEND, integration_id=hooked_b.pk)

    def report_bounces():
        for n in range(20):
            row_id = accepted.get(timeout=30)
            email = EmailLogEntry.objects.values_list("to", flat=True).get(pk=row_id)
            body = as_body([bounce(row_id, email, event_id=f"bounce-{n}")])
            assert post_webhook(Client(), webhook_path(hooked_b), body, signer.headers(body)).json()["applied"] == 1

    counts, _ = race([lambda: delivery.deliver_queued(hooked_b.pk, [row.pk for row in rows]), report_bounces])

    assert counts == {"delivered": 20}  # what the provider said; the events then failed them
    final = EmailLogEntry.objects.filter(pk__in=[row.pk for row in rows]).values_list("to", "status", "error", "message_id")
    for to, status, error, message_id in final:
        assert (status, error) == (EmailStatus.FAILED, f"Bounced: {to} - {UNKNOWN_USER} (type: bounce)")
        assert message_id.startswith("sg-")
