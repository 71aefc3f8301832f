"""Settings -> Integrations pages: roles, tenancy, the per-type form, write-only secrets, and the actions."""

import re

import pytest
import responses

from integrations.models import Integration, IntegrationAuditEvent
from integrations.types import fingerprint_for
from workspaces.models import Role

pytestmark = pytest.mark.django_db

A = "https://provider-a.test"
CANARY = "re_CANARY_settings_9f8e7d6c5b4a"
NEW_KEY = "re_NEWKEY_settings_0a1b2c3d4e5f"


@pytest.fixture
def admin(pages_as):
    return pages_as(Role.ADMIN)


@pytest.fixture
def member(pages_as):
    return pages_as(Role.MEMBER)


@pytest.fixture
def email_integration(make_integration):
    return make_integration("EMAIL_PROVIDER", name="Production Email", credentials={"apiKey": CANARY})


@pytest.fixture
def provider():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def new_email_provider_form(**overrides):
    form = {
        "name": "Transactional",
        "enabled": "on",
        "site_email_provider": "on",
        "config_fromEmail": "noreply@acme.example",
        "config_fromName": "Acme Legal",
        "credential_apiKey": CANARY,
    }
    form.update(overrides)
    return {key: value for key, value in form.items() if value is not None}


def action_urls(integration) -> dict:
    base = f"/settings/integrations/{integration.pk}"
    return {
        "edit": f"{base}/",
        "delete": f"{base}/delete/",
        "enabled": f"{base}/enabled/",
        "site-email-provider": f"{base}/site-email-provider/",
        "check-connection": f"{base}/check-connection/",
    }


def test_members_see_the_list_without_any_way_to_change_it(member, email_integration):
    html = member.get("/settings/integrations/").content.decode()

    assert "Production Email" in html and fingerprint_for(CANARY) in html
    assert "<form" not in html.split("</header>", 1)[1]
    assert "Add an integration" not in html and "Edit</a>" not in html


@pytest.mark.parametrize("action", ["edit", "delete", "enabled", "site-email-provider", "check-connection"])
def test_members_cannot_use_any_change_action(member, email_integration, action, provider):
    url = action_urls(email_integration)[action]
    before = Integration.objects.values().get(pk=email_integration.pk)

    posted = member.post(url, {"name": "Hijacked", "enabled": "0", "to": "x@example.com"})
    fetched = member.get(url) if action in ("edit", "delete") else posted

    assert posted.status_code == 403 and fetched.status_code == 403
    assert Integration.objects.values().get(pk=email_integration.pk) == before
    assert not provider.calls


def test_members_cannot_open_the_add_form(member):
    assert member.get("/settings/integrations/new/").status_code == 403
    assert member.post("/settings/integrations/new/?type=WEBHOOK", {"name": "x"}).status_code == 403


def test_choosing_a_type_lists_all_nine(admin):
    html = admin.get("/settings/integrations/new/").content.decode()

    assert len(re.findall(r'href="\?type=[A-Z_]+"', html)) == 9


def test_each_type_gets_its_own_fields(admin):
    slack = admin.get("/settings/integrations/new/?type=SLACK").content.decode()
    storage = admin.get("/settings/integrations/new/?type=CLOUD_STORAGE").content.decode()

    assert 'name="config_channel"' in slack and 'type="url" name="config_webhookUrl"' in slack
    assert 'type="password" name="credential_botToken"' in slack and "site_email_provider" not in slack
    assert 'name="credential_accessToken"' in storage and 'name="credential_refreshToken"' in storage
    assert admin.get("/settings/integrations/new/?type=NOPE").status_code == 404


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
def test_admins_and_owners_add_an_email_provider(pages_as, role):
    browser = pages_as(role)
    response = browser.post("/settings/integrations/new/?type=EMAIL_PROVIDER", new_email_provider_form())

    integration = Integration.objects.get(name="Transactional")
    assert response.status_code == 302 and response["Location"] == "/settings/integrations/"
    assert integration.is_site_email_provider and integration.config == {"fromEmail": "noreply@acme.example", "fromName": "Acme Legal"}
    assert integration.credentials == {"apiKey": CANARY}
    assert IntegrationAuditEvent.objects.get(integration_id=integration.pk).actor == browser.user


def test_invalid_input_is_a_400_that_names_the_problem_and_writes_nothing(admin):
    response = admin.post(
        "/settings/integrations/new/?type=EMAIL_PROVIDER", new_email_provider_form(config_fromEmail="not-an-email", name=" ")
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter a valid email address." in html and "This field is required." in html
    assert CANARY not in html  # the typed secret is not echoed back
    assert not Integration.objects.exists() and not IntegrationAuditEvent.objects.exists()


def test_a_service_rule_broken_through_the_form_is_shown_on_the_form(admin):
    response = admin.post("/settings/integrations/new/?type=EMAIL_PROVIDER", new_email_provider_form(enabled=None))

    assert response.status_code == 400
    assert "A disabled integration cannot be the site email provider." in response.content.decode()
    assert not Integration.objects.exists()


def test_edit_form_never_shows_the_secret_and_blank_keeps_it(admin, email_integration):
    form_html = admin.get(f"/settings/integrations/{email_integration.pk}/").content.decode()
    response = admin.post(
        f"/settings/integrations/{email_integration.pk}/",
        new_email_provider_form(name="Renamed", credential_apiKey="", site_email_provider=None),
    )

    email_integration.refresh_from_db()
    assert CANARY not in form_html and f"Stored: {fingerprint_for(CANARY)}" in form_html
    assert response.status_code == 302
    assert email_integration.name == "Renamed" and email_integration.credentials == {"apiKey": CANARY}


def test_edit_replaces_or_removes_a_secret_and_clears_emptied_config(admin, email_integration):
    url = f"/settings/integrations/{email_integration.pk}/"

    admin.post(url, new_email_provider_form(credential_apiKey=NEW_KEY, config_fromName="", site_email_provider=None))
    email_integration.refresh_from_db()
    replaced = (email_integration.credentials, email_integration.config)
    admin.post(url, new_email_provider_form(credential_apiKey="", remove_apiKey="on", site_email_provider=None))
    email_integration.refresh_from_db()

    assert replaced == ({"apiKey": NEW_KEY}, {"fromEmail": "noreply@acme.example"})
    assert email_integration.credentials == {} and email_integration.credential_fingerprints == {}


def test_enable_disable_and_site_provider_actions(admin, email_integration, make_integration):
    other = make_integration("EMAIL_PROVIDER_ALT", name="Marketing Email", set_as_site_email_provider=True)
    urls = action_urls(email_integration)

    admin.post(urls["site-email-provider"])
    flag_moved = Integration.objects.get(is_site_email_provider=True)
    admin.post(urls["enabled"], {"enabled": "0"})
    email_integration.refresh_from_db()

    assert flag_moved == email_integration
    assert not email_integration.enabled and not email_integration.is_site_email_provider
    assert Integration.objects.get(pk=other.pk).enabled


def test_making_a_disabled_integration_the_site_provider_is_refused_plainly(admin, email_integration):
    admin.post(action_urls(email_integration)["enabled"], {"enabled": "0"})

    response = admin.post(action_urls(email_integration)["site-email-provider"], follow=True)

    assert "cannot be the site email provider" in response.content.decode()
    assert not Integration.objects.filter(is_site_email_provider=True).exists()


def test_delete_asks_first_then_keeps_the_email_log(admin, email_integration):
    url = action_urls(email_integration)["delete"]

    confirm = admin.get(url).content.decode()
    assert Integration.objects.filter(pk=email_integration.pk).exists()
    response = admin.post(url, follow=True)

    assert "Delete Production Email?" in confirm and "Email Log table and every row in it are kept" in confirm
    assert not Integration.objects.filter(pk=email_integration.pk).exists()
    assert "Deleted Production Email." in response.content.decode()


def test_check_connection_lists_templates(admin, email_integration, provider):
    templates = [{"id": f"t{i}", "name": f"Template {i}", "created_at": "2026-01-10 09:00:00+00"} for i in range(2)]
    provider.add(responses.GET, f"{A}/templates", json={"object": "list", "has_more": False, "data": templates})

    html = admin.post(action_urls(email_integration)["check-connection"], follow=True).content.decode()

    assert "Production Email: connection check passed. Resend accepts the API key; 2 templates found: Template 0, Template 1." in html


def test_check_connection_reports_a_rejected_key_without_revealing_it(admin, email_integration, provider):
    provider.add(responses.GET, f"{A}/templates", status=401, json={"name": "validation_error", "message": f"API key {CANARY} is invalid"})

    html = admin.post(action_urls(email_integration)["check-connection"], follow=True).content.decode()

    assert "Production Email: connection check failed. The stored API key was rejected by Resend" in html
    assert CANARY not in html


@pytest.mark.parametrize("action", ["edit", "delete", "enabled", "site-email-provider", "check-connection"])
def test_another_workspaces_integration_is_not_found(pages_as, other_workspace, email_integration, action):
    outsider = pages_as(Role.OWNER, other_workspace)
    url = action_urls(email_integration)[action]

    assert outsider.post(url, {"to": "x@example.com", "enabled": "0"}).status_code == 404
    assert Integration.objects.get(pk=email_integration.pk).enabled
    assert "Production Email" not in outsider.get("/settings/integrations/").content.decode()
