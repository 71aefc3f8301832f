"""The email side of Settings -> Integrations: the test email (sent and logged like any other email)
and the Email Log that an email integration added or deleted on those pages keeps."""

import pytest
import responses

from email_logs.models import EmailLogEntry, EmailStatus
from integrations.models import Integration
from tables.models import Table
from workspaces.models import Role

from .conftest import KEY_A, PROVIDER_A

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(pages_as):
    return pages_as(Role.ADMIN)


@pytest.fixture
def email_integration(make_integration):
    return make_integration("EMAIL_PROVIDER", name="Production Email", credentials={"apiKey": KEY_A})


def page_of_test_email(integration) -> str:
    return f"/settings/integrations/{integration.pk}/test-email/"


@pytest.mark.django_db(transaction=True)  # the send runs when the request commits
def test_send_test_email_goes_through_the_outbound_service_and_is_logged(admin, email_integration, provider):
    provider.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": "msg-test-1"})

    response = admin.post(page_of_test_email(email_integration), {"to": "ada@example.com"}, follow=True)

    entry = EmailLogEntry.objects.get()
    html = response.content.decode()
    assert entry.status == EmailStatus.DELIVERED and entry.message_id == "msg-test-1" and entry.to == "ada@example.com"
    assert "Test email to ada@example.com delivered." in html
    assert f'href="/tables/{entry.table_id}/"' in html
    assert provider.calls[0].request.headers["Authorization"] == f"Bearer {KEY_A}"


@pytest.mark.django_db(transaction=True)
def test_a_refused_test_email_is_logged_as_failed_and_says_why(admin, email_integration, provider):
    provider.add(responses.POST, f"{PROVIDER_A}/emails", status=422, json={"name": "validation_error", "message": "Domain not verified"})

    html = admin.post(page_of_test_email(email_integration), {"to": "ada@example.com"}, follow=True).content.decode()

    entry = EmailLogEntry.objects.get()
    assert entry.status == EmailStatus.FAILED and "Domain not verified" in entry.error
    assert "Test email failed:" in html and "Domain not verified" in html and KEY_A not in html


def test_a_bad_test_address_sends_nothing(admin, email_integration, provider):
    html = admin.post(page_of_test_email(email_integration), {"to": "nobody"}, follow=True).content.decode()

    assert "Test email not sent: Enter a valid email address." in html
    assert not provider.calls and not EmailLogEntry.objects.exists()


def test_members_cannot_send_a_test_email(pages_as, email_integration, provider):
    member = pages_as(Role.MEMBER)

    assert member.post(page_of_test_email(email_integration), {"to": "x@example.com"}).status_code == 403
    assert not provider.calls and not EmailLogEntry.objects.exists()


def test_another_workspaces_integration_cannot_send_a_test_email(pages_as, other_workspace, email_integration, provider):
    outsider = pages_as(Role.OWNER, other_workspace)

    assert outsider.post(page_of_test_email(email_integration), {"to": "x@example.com"}).status_code == 404
    assert not provider.calls and not EmailLogEntry.objects.exists()


def test_an_email_provider_added_on_the_settings_page_gets_its_email_log(admin):
    form = {"name": "Transactional", "enabled": "on", "config_fromEmail": "noreply@acme.example", "credential_apiKey": KEY_A}

    admin.post("/settings/integrations/new/?type=EMAIL_PROVIDER", form)

    assert Table.objects.filter(integration=Integration.objects.get(name="Transactional")).exists()


def test_deleting_on_the_settings_page_keeps_the_email_log(admin, email_integration):
    table = Table.objects.get(integration=email_integration)

    admin.post(f"/settings/integrations/{email_integration.pk}/delete/")

    assert not Integration.objects.filter(pk=email_integration.pk).exists()
    assert Table.objects.filter(pk=table.pk).exists()
