"""GET /api/integrations/email-provider-{a,b}/templates: choice of integration, pages, and error codes."""

import pytest
import requests
import responses
from responses import matchers

from integrations import services

pytestmark = pytest.mark.django_db

A = "https://provider-a.test"
B = "https://provider-b.test"
CANARY = "re_CANARY_templates_5f4e3d2c1b"


@pytest.fixture
def provider():
    with responses.RequestsMock() as mock:
        yield mock


def resend_page(templates, has_more):
    return {"object": "list", "has_more": has_more, "data": templates}


def test_provider_a_lists_every_page_in_the_seed_shape(member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER", credentials={"apiKey": CANARY})
    first = [{"id": "tmpl_1", "name": "Welcome Email", "created_at": "2026-01-10 09:00:00.000+00"}]
    second = [{"id": "tmpl_2", "name": "Reminder", "created_at": "2026-01-11 10:30:00.250+00"}]
    provider.add(responses.GET, f"{A}/templates", json=resend_page(first, True), match=[matchers.query_param_matcher({"limit": "100"})])
    provider.add(
        responses.GET, f"{A}/templates", json=resend_page(second, False),
        match=[matchers.query_param_matcher({"limit": "100", "after": "tmpl_1"})],
    )  # fmt: skip

    response = member_api.get("/api/integrations/email-provider-a/templates")

    assert response.status_code == 200
    assert response.json() == {
        "templates": [
            {"id": "tmpl_1", "name": "Welcome Email", "created_at": "2026-01-10T09:00:00.000Z"},
            {"id": "tmpl_2", "name": "Reminder", "created_at": "2026-01-11T10:30:00.250Z"},
        ]
    }
    assert provider.calls[0].request.headers["Authorization"] == f"Bearer {CANARY}"


def test_provider_b_asks_for_dynamic_templates_and_follows_next(member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER_ALT")
    page_one = {
        "result": [{"id": "d-1111", "name": "Client Onboarding", "generation": "dynamic", "updated_at": "2026-01-10 09:00:00"}],
        "_metadata": {"next": f"{B}/v3/templates?generations=dynamic&page_size=200&page_token=abc"},
    }
    page_two = {"result": [{"id": "d-2222", "name": "Invoice", "generation": "dynamic", "updated_at": "2026-02-01 12:00:00"}], "_metadata": {}}
    provider.add(
        responses.GET, f"{B}/v3/templates", json=page_one,
        match=[matchers.query_param_matcher({"generations": "dynamic", "page_size": "200"})],
    )  # fmt: skip
    provider.add(
        responses.GET, f"{B}/v3/templates", json=page_two,
        match=[matchers.query_param_matcher({"generations": "dynamic", "page_size": "200", "page_token": "abc"})],
    )  # fmt: skip

    body = member_api.get("/api/integrations/email-provider-b/templates/").json()

    assert body["templates"] == [
        {"id": "d-1111", "name": "Client Onboarding", "created_at": "2026-01-10T09:00:00.000Z"},
        {"id": "d-2222", "name": "Invoice", "created_at": "2026-02-01T12:00:00.000Z"},
    ]


def test_no_usable_integration_is_a_409_that_says_what_to_configure(member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER", enabled=False)
    make_integration("EMAIL_PROVIDER", credentials={})

    response = member_api.get("/api/integrations/email-provider-a/templates")

    assert response.status_code == 409
    assert "EMAIL_PROVIDER" in response.json()["detail"] and "apiKey" in response.json()["detail"]


def test_the_site_provider_wins_over_a_newer_integration(member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_site_key_0000000000"}, set_as_site_email_provider=True)
    make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_newer_key_000000000"})
    provider.add(responses.GET, f"{A}/templates", json=resend_page([], False))

    member_api.get("/api/integrations/email-provider-a/templates")

    assert provider.calls[0].request.headers["Authorization"] == "Bearer re_site_key_0000000000"


def test_otherwise_the_most_recently_updated_enabled_integration_is_used(member_api, make_integration, provider):
    older = make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_older_key_000000000"})
    make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_newer_key_000000000"})
    services.update_integration(older, name="Touched last")
    provider.add(responses.GET, f"{A}/templates", json=resend_page([], False))

    member_api.get("/api/integrations/email-provider-a/templates")

    assert provider.calls[0].request.headers["Authorization"] == "Bearer re_older_key_000000000"


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_is_a_502_that_never_shows_the_key(member_api, make_integration, provider, status):
    make_integration("EMAIL_PROVIDER", credentials={"apiKey": CANARY})
    provider.add(responses.GET, f"{A}/templates", status=status, json={"name": "invalid_api_key", "message": f"API key {CANARY} is invalid"})

    response = member_api.get("/api/integrations/email-provider-a/templates")

    assert response.status_code == 502
    assert response.json()["detail"].startswith(f"The stored API key was rejected by Resend (HTTP {status}")
    assert response.json()["detail"].endswith(" Update the integration's apiKey.")
    assert CANARY not in response.content.decode()


def test_a_provider_outage_is_a_502(member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER_ALT")
    provider.add(responses.GET, f"{B}/v3/templates", status=500, body="upstream exploded")

    assert member_api.get("/api/integrations/email-provider-b/templates").status_code == 502


def test_malformed_provider_json_is_a_502(member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER")
    provider.add(responses.GET, f"{A}/templates", body="<html>not json</html>", status=200)

    assert member_api.get("/api/integrations/email-provider-a/templates").status_code == 502


def test_no_answer_within_the_timeout_is_a_504(member_api, make_integration, provider):
    make_integration("EMAIL_PROVIDER")
    provider.add(responses.GET, f"{A}/templates", body=requests.exceptions.ReadTimeout("timed out"))

    response = member_api.get("/api/integrations/email-provider-a/templates")

    assert response.status_code == 504


def test_templates_are_cached_until_the_integration_changes(member_api, make_integration, provider):
    integration = make_integration("EMAIL_PROVIDER")
    provider.add(responses.GET, f"{A}/templates", json=resend_page([], False))

    member_api.get("/api/integrations/email-provider-a/templates")
    member_api.get("/api/integrations/email-provider-a/templates")
    assert len(provider.calls) == 1

    services.update_integration(integration, credentials_patch={"apiKey": "re_rotated_key_000000000"})
    member_api.get("/api/integrations/email-provider-a/templates")
    assert len(provider.calls) == 2
    assert provider.calls[1].request.headers["Authorization"] == "Bearer re_rotated_key_000000000"


def test_another_workspaces_integration_is_never_used(member_api, other_workspace, make_integration, provider):
    make_integration("EMAIL_PROVIDER", in_workspace=other_workspace)

    assert member_api.get("/api/integrations/email-provider-a/templates").status_code == 409
    assert not provider.calls
