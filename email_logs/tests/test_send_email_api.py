"""POST /api/emails: one email, one log row, whatever the provider answers."""

import base64
import json

import pytest
import requests
import responses

from email_logs.models import EmailLogEntry, OutboundEmail

from .conftest import KEY_A, PROVIDER_A, resend_accepts, sendgrid_accepts

# Real commits: a send runs when its transaction commits (on_commit), as it does in production.
pytestmark = pytest.mark.django_db(transaction=True)

ROW_COLUMNS = [
    "Sent At", "To", "From", "Subject", "Status", "Provider", "Message ID",
    "CC", "BCC", "Template ID", "Source", "Error", "Attachments",
]  # fmt: skip


def send(api, **body):
    return api.post("/api/emails", {"to": "client@example.com", "subject": "Your documents", "text": "Hi", **body}, format="json")


def test_delivered_email_answers_201_with_its_log_row(member_api, site_provider_a, provider):
    resend_accepts(provider, "msg-123")

    response = send(member_api, cc=["a@example.com", "b@example.com"], bcc="audit@acme.example")

    assert response.status_code == 201
    row = response.json()
    assert list(row) == ["id", "createdAt", "values"]
    assert list(row["values"]) == ROW_COLUMNS
    values = row["values"]
    assert values["Status"] == "delivered"
    assert values["Message ID"] == "msg-123"
    assert values["To"] == "client@example.com"
    assert values["CC"] == "a@example.com, b@example.com"
    assert values["BCC"] == "audit@acme.example"
    assert values["From"] == "noreply@acme.example"
    assert values["Provider"] == "email-provider-a"
    assert values["Source"] == "Workflow Email"
    assert values["Error"] == "" and values["Template ID"] == ""
    assert values["Attachments"] == 0
    assert EmailLogEntry.objects.count() == 1
    assert not OutboundEmail.objects.exists()  # the outbox is emptied once the row is final


def test_resend_payload_carries_template_attachments_and_an_idempotency_key(member_api, site_provider_a, provider):
    resend_accepts(provider)
    content = base64.b64encode(b"%PDF-1.4 engagement letter").decode()

    response = send(
        member_api,
        text="",
        templateId="tmpl_welcome",
        templateData={"clientName": "Ada"},
        attachments=[{"filename": "letter.pdf", "contentType": "application/pdf", "content": content}],
    )

    assert response.status_code == 201
    assert response.json()["values"]["Template ID"] == "tmpl_welcome"
    assert response.json()["values"]["Attachments"] == 1
    sent = provider.calls[0].request
    body = json.loads(sent.body)
    assert body["template"] == {"id": "tmpl_welcome", "variables": {"clientName": "Ada"}}
    assert body["attachments"][0]["filename"] == "letter.pdf"
    assert body["from"] == "Acme Legal <noreply@acme.example>"
    assert sent.headers["Idempotency-Key"].endswith(response.json()["id"])
    assert sent.headers["Authorization"] == f"Bearer {KEY_A}"


def test_sendgrid_send_uses_the_x_message_id_header(member_api, provider_b, provider):
    sendgrid_accepts(provider, "sg-message-42")

    response = send(member_api, integrationId=provider_b.id, templateId="d-abc", templateData={"n": 1})

    assert response.status_code == 201
    assert response.json()["values"]["Message ID"] == "sg-message-42"
    assert response.json()["values"]["Provider"] == "email-provider-b"
    body = json.loads(provider.calls[0].request.body)
    assert body["template_id"] == "d-abc"
    assert body["personalizations"][0]["dynamic_template_data"] == {"n": 1}


def test_rejected_key_answers_502_with_a_failed_row_and_no_key(member_api, site_provider_a, provider):
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=401, json={"name": "validation_error", "message": f"bad key {KEY_A}"})

    response = send(member_api)

    assert response.status_code == 502
    body = response.json()
    assert body["row"]["values"]["Status"] == "failed"
    assert body["row"]["values"]["Error"]
    assert body["detail"] == body["row"]["values"]["Error"]
    assert KEY_A not in response.content.decode()
    assert KEY_A not in EmailLogEntry.objects.get().error
    assert len(provider.calls) == 1  # a 401 is never retried


def test_server_errors_are_retried_with_the_same_idempotency_key_then_delivered(member_api, site_provider_a, provider):
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=500, json={"message": "boom"})
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=429, json={"name": "rate_limit_exceeded"}, headers={"Retry-After": "1"})
    resend_accepts(provider, "after-retries")

    response = send(member_api)

    assert response.status_code == 201
    assert response.json()["values"]["Message ID"] == "after-retries"
    keys = {call.request.headers["Idempotency-Key"] for call in provider.calls}
    assert len(provider.calls) == 3 and len(keys) == 1
    assert EmailLogEntry.objects.count() == 1


def test_an_outage_writes_one_failed_row_after_the_last_attempt(member_api, site_provider_a, provider, settings):
    settings.EMAIL_SEND_MAX_ATTEMPTS = 3
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=503, json={"message": "unavailable"})

    response = send(member_api)

    assert response.status_code == 502
    assert len(provider.calls) == 3
    entry = EmailLogEntry.objects.get()
    assert entry.status == "failed" and entry.message_id == ""


def test_a_timeout_writes_a_failed_row(member_api, site_provider_a, provider, settings):
    settings.EMAIL_SEND_MAX_ATTEMPTS = 1
    provider.add(responses.POST, f"{PROVIDER_A}/emails", body=requests.exceptions.ReadTimeout("read timed out"))

    response = send(member_api)

    assert response.status_code == 502
    assert EmailLogEntry.objects.get().status == "failed"


def test_a_quota_429_is_not_retried(member_api, site_provider_a, provider):
    provider.add(
        responses.POST, f"{PROVIDER_A}/emails", status=429, json={"name": "daily_quota_exceeded", "message": "quota"}
    )

    response = send(member_api)

    assert response.status_code == 502
    assert len(provider.calls) == 1


def test_no_site_provider_is_a_409_that_writes_nothing(member_api, provider):
    response = send(member_api)

    assert response.status_code == 409
    assert "setAsSiteEmailProvider" in response.json()["detail"]
    assert not EmailLogEntry.objects.exists()
    assert not provider.calls


@pytest.mark.parametrize(
    "body, field",
    [
        ({"to": "not-an-address"}, "to"),
        ({"to": []}, "to"),
        ({"cc": ["ok@example.com", "broken@"]}, "cc"),
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"text": "", "html": ""}, "body"),
        ({"attachments": [{"filename": "x.bin", "content": "***not base64***"}]}, "attachments"),
        ({"unexpected": True}, "unexpected"),
    ],
)
def test_bad_input_is_a_400_that_sends_and_logs_nothing(member_api, site_provider_a, provider, body, field):
    response = send(member_api, **body)

    assert response.status_code == 400
    assert field in response.json()
    assert not EmailLogEntry.objects.exists()
    assert not provider.calls


def test_attachments_over_the_size_limit_are_refused(member_api, site_provider_a, provider, settings):
    settings.EMAIL_MAX_ATTACHMENT_BYTES = 1000
    big = base64.b64encode(b"x" * 1001).decode()

    response = send(member_api, attachments=[{"filename": "big.bin", "content": big}])

    assert response.status_code == 400
    assert "attachments" in response.json()


def test_another_workspaces_integration_cannot_send(member_api, other_workspace, make_integration, provider):
    foreign = make_integration("EMAIL_PROVIDER", in_workspace=other_workspace, set_as_site_email_provider=True)

    response = send(member_api, integrationId=foreign.id)

    assert response.status_code == 400
    assert not provider.calls


def test_anonymous_callers_get_401(anon_api):
    assert send(anon_api).status_code == 401


# The answer follows why the email was not sent (issue 18, item 9) ---------------------------------


def test_a_key_that_cannot_be_decrypted_is_a_503_naming_the_key_not_a_suppression(member_api, site_provider_a, provider, settings):
    resend_accepts(provider)
    settings.OPBOX_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(b"a-brand-new-key-of-32-bytes-long").decode()]

    response = send(member_api)

    assert response.status_code == 503
    body = response.json()
    assert "OPBOX_ENCRYPTION_KEYS" in body["detail"] and "suppressed" not in body["detail"]
    assert body["row"]["values"]["Status"] == "failed" and body["row"]["values"]["Error"] == body["detail"]
    assert not provider.calls


def test_an_email_whose_recipients_are_all_suppressed_is_still_a_422(member_api, admin_api, site_provider_a, provider):
    assert admin_api.post("/api/suppressions", {"address": "client@example.com"}, format="json").status_code == 201

    response = send(member_api)

    assert response.status_code == 422
    assert response.json()["detail"] == "All recipients are suppressed: client@example.com"
