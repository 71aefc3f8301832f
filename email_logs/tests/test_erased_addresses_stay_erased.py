"""After an erasure, what arrives later must not bring the address back (issue 18, item 4): a provider's late
event (SendGrid sends bounces for up to 72 hours) is stored with `[erased]`, and so is a new send to the
erased address. The keyed hash on the suppression list is how each recognises it."""

import json

import pytest
from django.test import Client

from email_logs.events.suppressions import address_hash
from email_logs.lifecycle import entry_points as lifecycle
from email_logs.lifecycle.erasure import ERASED
from email_logs.models import EmailEvent, EmailLogEntry, Suppression

from .conftest import resend_accepts
from .signing import RESEND_SECRET, as_body, resend_event, resend_headers, sendgrid_event
from .webhook_helpers import logged, post_webhook, webhook_path

pytestmark = pytest.mark.django_db

ADA = "ada@example.com"
REJECTED = "550 5.1.1 <ada@example.com>: Recipient address rejected"


def everything_stored() -> str:
    """Every text the Email Log, its events and the suppressions hold, lower-cased."""
    return repr(
        [
            list(EmailLogEntry.objects.values_list("to", "cc", "bcc", "subject", "error")),
            list(EmailEvent.objects.values_list("recipient", "detail")),
            list(Suppression.objects.values_list("address")),
        ]
    ).lower()


def erase(workspace, address=ADA):
    lifecycle.erase_address(workspace, address)


# Late events ----------------------------------------------------------------------------------------------------


def test_a_late_sendgrid_bounce_for_an_erased_address_is_stored_erased(workspace, hooked_b, signer):
    row = logged(hooked_b, to=f"{ADA}, bob@example.com", message_id="sg-1")
    erase(workspace)
    body = as_body([sendgrid_event("bounce", "late-1", email="Ada@Example.com", row_id=row.pk, type="bounce", reason=REJECTED)])

    response = post_webhook(Client(), webhook_path(hooked_b), body, signer.headers(body))

    assert response.json()["applied"] == 1
    event = EmailEvent.objects.get()
    assert (event.type, event.recipient, event.detail) == ("bounced", ERASED, "550 5.1.1 <[erased]>: Recipient address rejected (type: bounce)")
    row.refresh_from_db()
    assert (row.status, row.to) == ("delivered", "[erased], bob@example.com")
    assert row.error == "Bounced: [erased] - 550 5.1.1 <[erased]>: Recipient address rejected (type: bounce)"
    assert "ada@" not in everything_stored()
    assert Suppression.objects.get().address_hash == address_hash(ADA)  # still suppressed, by its hash alone


def test_a_late_sendgrid_bounce_of_the_last_other_recipient_fails_the_row_without_naming_the_erased_one(
    workspace, hooked_b, signer
):
    row = logged(hooked_b, to=f"{ADA}, bob@example.com", message_id="sg-1")
    erase(workspace)
    events = [
        sendgrid_event("bounce", "late-1", email=ADA, row_id=row.pk, type="bounce", reason="550 gone"),
        sendgrid_event("dropped", "late-2", email="bob@example.com", row_id=row.pk, reason="Bounced Address"),
    ]
    body = as_body(events)

    post_webhook(Client(), webhook_path(hooked_b), body, signer.headers(body))

    row.refresh_from_db()
    assert row.status == "failed"
    assert row.error == "Bounced: [erased] - 550 gone (type: bounce); Dropped: bob@example.com - Bounced Address"
    assert "ada@" not in everything_stored()


def test_a_late_resend_bounce_for_an_erased_address_is_stored_erased(workspace, hooked_a):
    row = logged(hooked_a, to=ADA, message_id="re-1")
    erase(workspace)
    body = resend_event("email.bounced", "re-1", to=[ADA], bounce={"message": REJECTED, "type": "Permanent"})

    response = post_webhook(Client(), webhook_path(hooked_a), body, resend_headers(RESEND_SECRET, body))

    assert response.json()["applied"] == 1
    row.refresh_from_db()
    assert row.status == "failed" and "ada@" not in everything_stored(), everything_stored()


def test_events_for_an_address_that_was_never_erased_keep_it(workspace, hooked_b, signer):
    row = logged(hooked_b, to=f"{ADA}, bob@example.com", message_id="sg-1")
    erase(workspace, "bob@example.com")
    body = as_body([sendgrid_event("bounce", "e-1", email=ADA, row_id=row.pk, type="bounce", reason=REJECTED)])

    post_webhook(Client(), webhook_path(hooked_b), body, signer.headers(body))

    assert EmailEvent.objects.get().recipient == ADA
    row.refresh_from_db()
    assert row.error.startswith(f"Bounced: {ADA} - 550 5.1.1 <{ADA}>")


# New sends ------------------------------------------------------------------------------------------------------

sends = pytest.mark.django_db(transaction=True)  # a send runs on commit, as in production


def send(api, **body):
    return api.post("/api/emails", {"to": ADA, "subject": "Ada's divorce papers", "text": "Hi", **body}, format="json")


@sends
def test_a_new_send_to_only_the_erased_address_keeps_nothing_of_it(member_api, workspace, site_provider_a, provider):
    erase(workspace)

    response = send(member_api, to="ADA@example.com", bcc=ADA)

    assert response.status_code == 422
    values = response.json()["row"]["values"]
    assert (values["Status"], values["To"], values["BCC"]) == ("failed", ERASED, ERASED)
    assert (values["Subject"], values["Error"]) == (ERASED, "All recipients are suppressed: [erased]")
    assert "ada@" not in everything_stored() and "divorce" not in everything_stored()
    assert not provider.calls


@sends
def test_a_new_send_naming_the_erased_address_beside_others_goes_to_them_and_keeps_nothing_of_it(
    member_api, workspace, site_provider_a, provider
):
    resend_accepts(provider, "msg-1")
    erase(workspace)

    response = send(member_api, to=["bob@example.com", "Ada@Example.com"], cc=ADA)

    assert response.status_code == 201
    values = response.json()["values"]
    assert (values["To"], values["CC"], values["Subject"]) == ("bob@example.com", "", "Ada's divorce papers")
    assert values["Error"] == "Not sent to suppressed recipients: [erased]"
    assert "ada@" not in everything_stored()
    assert json.loads(provider.calls[0].request.body)["to"] == ["bob@example.com"]


@sends
def test_a_new_send_to_an_erased_address_and_a_suppressed_one_names_only_the_suppressed_one(
    member_api, admin_api, workspace, site_provider_a, provider
):
    erase(workspace)
    assert admin_api.post("/api/suppressions", {"address": "carol@example.com"}, format="json").status_code == 201

    response = send(member_api, to=[ADA, "carol@example.com"])

    assert response.json()["detail"] == "All recipients are suppressed: [erased], carol@example.com"
    assert response.json()["row"]["values"]["To"] == "[erased], carol@example.com"
    assert not provider.calls
