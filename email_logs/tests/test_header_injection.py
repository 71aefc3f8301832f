"""Values that become email headers cannot carry a line break or NUL (issue 14, item 7): an email's subject and
attachment filenames on POST /api/emails, and an email integration's fromName when it is written. Each is a
400 that changes nothing, before any provider is called."""

import base64

import pytest

from email_logs.models import EmailLogEntry, OutboundEmail
from integrations.models import Integration

pytestmark = pytest.mark.django_db

BREAKERS = ["\r", "\n", "\r\n", "\0"]
IDS = ["CR", "LF", "CRLF", "NUL"]


def send(api, **body):
    return api.post("/api/emails", {"to": "client@example.com", "subject": "Your documents", "text": "Hi", **body}, format="json")


def nothing_written():
    return not EmailLogEntry.objects.exists() and not OutboundEmail.objects.exists()


@pytest.mark.parametrize("breaker", BREAKERS, ids=IDS)
def test_a_subject_with_a_line_break_or_nul_is_a_400(member_api, site_provider_a, provider, breaker):
    response = send(member_api, subject=f"Invoice{breaker}Bcc: victim@example.com")

    assert response.status_code == 400
    assert response.json()["subject"]  # "line breaks or NUL" (DRF itself names a NUL first)
    assert nothing_written() and not provider.calls


@pytest.mark.parametrize("breaker", BREAKERS, ids=IDS)
def test_an_attachment_filename_with_a_line_break_or_nul_is_a_400(member_api, site_provider_a, provider, breaker):
    attachment = {"filename": f"letter{breaker}.pdf", "contentType": "application/pdf", "content": base64.b64encode(b"%PDF").decode()}

    response = send(member_api, attachments=[attachment])

    assert response.status_code == 400
    assert response.json()["attachments"]
    assert nothing_written() and not provider.calls


EMAIL_BODY = {"name": "Mail", "type": "EMAIL_PROVIDER", "config": {"fromEmail": "noreply@acme.example"}, "credentials": {"apiKey": "re_1234567890abcdef"}}


@pytest.mark.parametrize("breaker", BREAKERS, ids=IDS)
def test_a_from_name_with_a_line_break_or_nul_is_a_400_on_create(admin_api, breaker):
    body = {**EMAIL_BODY, "config": {**EMAIL_BODY["config"], "fromName": f"Acme{breaker}Bcc: victim@example.com"}}

    response = admin_api.post("/api/integrations", body, format="json")

    assert response.status_code == 400
    assert "fromName" in " ".join(response.json()["config"]) and "line breaks" in " ".join(response.json()["config"])
    assert not Integration.objects.exists()


@pytest.mark.parametrize("type_name", ["EMAIL_PROVIDER", "EMAIL_PROVIDER_ALT"])
def test_a_from_name_with_a_line_break_is_a_400_on_update_and_changes_nothing(admin_api, make_integration, type_name):
    integration = make_integration(type_name)

    response = admin_api.patch(f"/api/integrations/{integration.pk}", {"config": {"fromName": "Acme\nLegal"}}, format="json")

    assert response.status_code == 400
    assert Integration.objects.get(pk=integration.pk).config["fromName"] == "Acme"


def test_a_from_name_with_spaces_and_punctuation_is_fine(admin_api):
    body = {**EMAIL_BODY, "config": {**EMAIL_BODY["config"], "fromName": 'Acme "Legal", Inc.'}}

    assert admin_api.post("/api/integrations", body, format="json").status_code == 201
