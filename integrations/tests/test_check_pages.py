"""Settings -> Integrations: every integration's last check on the list, "Check connection" for every type, and
"Test" on the add and edit forms, which checks the unsaved values, shows the sentence and stores nothing."""

import pytest
import responses

from integrations.models import Integration
from integrations.services import create_integration
from workspaces.models import Role

from . import services as svc

pytestmark = pytest.mark.django_db


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def admin(pages_as):
    return pages_as(Role.ADMIN)


@pytest.mark.parametrize("type_name", svc.VALUES)
def test_check_connection_works_for_every_type_and_the_list_shows_the_outcome(type_name, admin, workspace, mock):
    config, credentials = svc.VALUES[type_name]
    integration = create_integration(workspace, name="Service", type=type_name, config=config, credentials=credentials)
    svc.good(type_name, mock)
    listed = admin.get("/settings/integrations/").content.decode()
    assert "never run" in listed and f"/settings/integrations/{integration.pk}/check-connection/" in listed

    page = admin.post(f"/settings/integrations/{integration.pk}/check-connection/", follow=True).content.decode()

    integration.refresh_from_db()
    assert integration.last_check_ok is True
    assert "Service: connection check passed." in page and "passed</span>" in page
    assert f'<span class="check-detail">{integration.last_check_detail}' in page.replace("&#x27;", "'")
    assert not any(secret in page for secret in svc.KEYS.values())


def test_a_failed_check_shows_failed_with_its_sentence(admin, workspace, mock):
    integration = create_integration(workspace, name="CRM", type="CRM_PLATFORM", config={"portalId": "1"},
                                     credentials={"accessToken": svc.KEYS["hubspot"]})  # fmt: skip
    svc.hubspot_details(mock)

    page = admin.post(f"/settings/integrations/{integration.pk}/check-connection/", follow=True).content.decode()

    assert "CRM: connection check failed." in page and "failed</span>" in page and "belongs to portal 12345678" in page


def add_slack_form(token=svc.KEYS["slack"]):
    return {"name": "Alerts", "enabled": "on", "config_channel": "C0123ALERTS", "credential_botToken": token}


def test_test_on_the_add_form_shows_the_sentence_and_stores_nothing(admin, mock):
    svc.slack_auth(mock)
    svc.slack_channel(mock)

    response = admin.post("/settings/integrations/new/test/?type=SLACK", add_slack_form())

    assert response.status_code == 200
    page = response.content.decode()
    assert "Test passed: Posting as @opbox in #alerts." in page and "Nothing was saved" in page
    assert svc.KEYS["slack"] not in page  # the typed secret is never sent back
    assert not Integration.objects.exists()
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {svc.KEYS['slack']}"


def test_test_answers_json_for_the_pages_script(admin, mock):
    svc.slack_auth(mock, ok=False)

    response = admin.post("/settings/integrations/new/test/?type=SLACK", add_slack_form(), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json() == {"ok": False, "detail": "The bot token was rejected by Slack (invalid_auth). Update the integration's botToken."}
    assert not Integration.objects.exists()


def test_test_of_an_invalid_form_says_what_to_fix(admin, mock):
    form = add_slack_form() | {"config_webhookUrl": "http://10.1.2.3/hook"}

    response = admin.post("/settings/integrations/new/test/?type=SLACK", form, HTTP_ACCEPT="application/json")

    assert response.status_code == 400 and "Fix the form first" in response.json()["detail"]
    assert not mock.calls


def test_test_on_the_edit_form_checks_the_typed_values_over_the_stored_ones(admin, workspace, mock):
    integration = create_integration(workspace, name="CRM", type="CRM_PLATFORM", config={"portalId": "12345678"},
                                     credentials={"accessToken": svc.KEYS["hubspot"]})  # fmt: skip
    svc.hubspot_details(mock, portal=55555555)
    before = Integration.objects.filter(pk=integration.pk).values().get()

    response = admin.post(f"/settings/integrations/{integration.pk}/test/", {
        "name": "CRM", "enabled": "on", "config_portalId": "55555555", "credential_accessToken": "pat-na1-typed-in-the-form",
    }, HTTP_ACCEPT="application/json")  # fmt: skip

    assert response.json() == {"ok": True, "detail": "The access token works for HubSpot portal 55555555."}
    assert mock.calls[0].request.headers["Authorization"] == "Bearer pat-na1-typed-in-the-form"
    assert Integration.objects.filter(pk=integration.pk).values().get() == before


def test_the_forms_have_a_test_button_and_load_the_script_from_a_file(admin, workspace):
    integration = create_integration(workspace, name="Hook", type="WEBHOOK", config={"url": svc.WEBHOOK})

    for path in ("/settings/integrations/new/?type=SLACK", f"/settings/integrations/{integration.pk}/"):
        page = admin.get(path).content.decode()
        assert 'data-test-url="/settings/integrations/' in page and ">Test</button>" in page
        assert '<script src="/static/js/integration-test.js" defer></script>' in page
        assert "<script>" not in page and "style=" not in page  # nothing inline: a strict CSP is coming
