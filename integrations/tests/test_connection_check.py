"""POST /api/integrations/<id>/check and the settings page's Check connection: the stored key against the
provider, recorded on the integration whether it passes or fails."""

import pytest
import requests
import responses

from integrations.models import Integration

pytestmark = pytest.mark.django_db

A = "https://provider-a.test"
B = "https://provider-b.test"
CANARY = "re_CANARY_check_9a8b7c6d5e"
TEMPLATES = {"object": "list", "has_more": False, "data": [{"id": "tmpl_1", "name": "Welcome", "created_at": "2026-01-10 09:00:00.000+00"}]}


@pytest.fixture
def provider():
    with responses.RequestsMock() as mock:
        yield mock


def check(api, integration):
    return api.post(f"/api/integrations/{integration.pk}/check")


def test_a_passed_check_lists_the_templates_and_is_shown_in_the_detail(admin_api, make_integration, provider):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": CANARY})
    provider.add(responses.GET, f"{A}/templates", json=TEMPLATES)

    response = check(admin_api, integration)

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["templates"] == [{"id": "tmpl_1", "name": "Welcome", "created_at": "2026-01-10T09:00:00.000Z"}]
    assert provider.calls[0].request.headers["Authorization"] == f"Bearer {CANARY}"
    detail = admin_api.get(f"/api/integrations/{integration.pk}").json()
    assert detail["lastCheckOk"] is True and detail["lastCheckedAt"] == body["checkedAt"]
    assert CANARY not in response.content.decode()


def test_provider_b_is_checked_through_its_own_client(admin_api, make_integration, provider):
    integration = make_integration("EMAIL_PROVIDER_ALT")
    provider.add(responses.GET, f"{B}/v3/templates", json={"result": [], "_metadata": {}})

    response = check(admin_api, integration)

    assert response.status_code == 200 and response.json()["templates"] == []


def test_a_rejected_key_is_a_502_and_is_recorded_as_a_failed_check(admin_api, make_integration, provider):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": CANARY})
    provider.add(responses.GET, f"{A}/templates", status=401, json={"name": "validation_error", "message": f"API key {CANARY} is invalid"})

    response = check(admin_api, integration)

    assert response.status_code == 502
    assert "rejected" in response.json()["detail"] and CANARY not in response.content.decode()
    integration.refresh_from_db()
    assert integration.last_check_ok is False and integration.last_checked_at is not None
    assert admin_api.get(f"/api/integrations/{integration.pk}").json()["lastCheckOk"] is False


def test_a_silent_provider_is_a_504_and_is_recorded(admin_api, make_integration, provider):
    integration = make_integration("EMAIL_PROVIDER")
    provider.add(responses.GET, f"{A}/templates", body=requests.ConnectTimeout("no answer"))

    response = check(admin_api, integration)

    assert response.status_code == 504
    integration.refresh_from_db()
    assert integration.last_check_ok is False


def test_an_earlier_pass_is_overwritten_by_a_later_failure(admin_api, make_integration, provider):
    integration = make_integration("EMAIL_PROVIDER")
    provider.add(responses.GET, f"{A}/templates", json=TEMPLATES)
    provider.add(responses.GET, f"{A}/templates", status=503, body="down")

    assert check(admin_api, integration).status_code == 200
    assert check(admin_api, integration).status_code == 502

    integration.refresh_from_db()
    assert integration.last_check_ok is False


def test_a_check_asks_the_provider_afresh_even_with_templates_cached(admin_api, member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    integration = Integration.objects.get(is_site_email_provider=True)
    provider.add(responses.GET, f"{A}/templates", json=TEMPLATES)
    assert member_api.get("/api/integrations/email-provider-a/templates").status_code == 200  # now cached

    assert check(admin_api, integration).status_code == 200

    assert len(provider.calls) == 2


def test_a_check_is_not_a_change_of_the_integration(admin_api, make_integration, provider):
    integration = make_integration("EMAIL_PROVIDER")
    provider.add(responses.GET, f"{A}/templates", json=TEMPLATES)

    check(admin_api, integration)

    refreshed = Integration.objects.get(pk=integration.pk)
    assert refreshed.updated_at == integration.updated_at
    assert admin_api.get(f"/api/integrations/{integration.pk}/audit").json()[0]["action"] == "created"


def test_other_types_are_not_checkable_and_nothing_is_recorded(admin_api, make_integration):
    integration = make_integration("WEBHOOK")

    response = check(admin_api, integration)

    assert response.status_code == 409
    assert "no connection check" in response.json()["detail"]
    integration.refresh_from_db()
    assert integration.last_checked_at is None and integration.last_check_ok is None


def test_an_email_integration_without_a_key_fails_its_check(admin_api, make_integration):
    integration = make_integration("EMAIL_PROVIDER", credentials={})

    response = check(admin_api, integration)

    assert response.status_code == 409 and "apiKey" in response.json()["detail"]
    integration.refresh_from_db()
    assert integration.last_check_ok is False


def test_a_key_sealed_under_a_dropped_key_id_fails_the_check_with_a_503(admin_api, make_integration, settings):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": CANARY})
    settings.OPBOX_ENCRYPTION_KEYS = ["bmV3LWtleS0zMi1ieXRlcy1sb25nLWZvci10ZXN0cyE="]

    response = check(admin_api, integration)

    assert response.status_code == 503
    assert "not in OPBOX_ENCRYPTION_KEYS" in response.json()["detail"] and CANARY not in response.content.decode()
    assert Integration.objects.filter(pk=integration.pk).values_list("last_check_ok", flat=True).get() is False


def test_the_settings_page_button_uses_the_same_check_and_shows_it(pages_as, make_integration, provider):
    from workspaces.models import Role

    integration = make_integration("EMAIL_PROVIDER")
    provider.add(responses.GET, f"{A}/templates", json=TEMPLATES)
    admin = pages_as(Role.ADMIN)

    response = admin.post(f"/settings/integrations/{integration.pk}/check-connection/", follow=True)

    assert response.status_code == 200
    integration.refresh_from_db()
    assert integration.last_check_ok is True
    page = response.content.decode()
    assert "Connected to" in page and "Connection check" in page and "passed" in page

