"""Every page form needs its CSRF token, and no page ever shows a stored secret."""

import pytest
import responses

from email_logs.tests.factories import add_rows
from integrations.models import Integration
from tables.models import Table
from workspaces.models import Role

pytestmark = pytest.mark.django_db

CANARIES = {
    "EMAIL_PROVIDER": {"apiKey": "re_CANARY_pages_1a2b3c4d5e6f7a8b"},
    "EMAIL_PROVIDER_ALT": {"apiKey": "SG.CANARY_pages_2b3c4d5e6f7a8b9c"},
    "WEBHOOK": {"secret": "whsec_CANARY_pages_3c4d5e6f7a8b9c0d"},
    "CLOUD_STORAGE": {"accessToken": "ya29.CANARY_pages_4d5e6f7a8b9c", "refreshToken": "1//CANARY_pages_5e6f7a8b9c0d"},
}


@pytest.fixture
def integrations(make_integration):
    return {kind: make_integration(kind, name=f"{kind} canary", credentials=secrets) for kind, secrets in CANARIES.items()}


def post_targets(integration) -> list[str]:
    base = f"/settings/integrations/{integration.pk}"
    return [
        "/settings/integrations/new/?type=WEBHOOK",
        f"{base}/",
        f"{base}/delete/",
        f"{base}/enabled/",
        f"{base}/site-email-provider/",
        f"{base}/test-email/",
        f"{base}/check-connection/",
        "/workspace/switch/",
        "/logout/",
    ]


def test_every_page_form_is_refused_without_its_csrf_token(pages_as, integrations):
    browser = pages_as(Role.OWNER, enforce_csrf_checks=True)
    integration = integrations["EMAIL_PROVIDER"]
    before = list(Integration.objects.order_by("pk").values())

    statuses = {url: browser.post(url, {"name": "x", "enabled": "0", "to": "a@example.com"}).status_code for url in post_targets(integration)}

    assert set(statuses.values()) == {403}, statuses
    assert list(Integration.objects.order_by("pk").values()) == before
    assert browser.get("/tables/").status_code == 200  # still logged in: logout was refused too


def test_login_form_is_refused_without_its_csrf_token():
    from django.test import Client

    assert Client(enforce_csrf_checks=True).post("/login/", {"username": "a@example.com", "password": "x"}).status_code == 403


def test_no_page_shows_a_stored_secret(pages_as, integrations):
    table = Table.objects.get(integration=integrations["EMAIL_PROVIDER"])
    add_rows(table, 3)
    owner, member = pages_as(Role.OWNER), pages_as(Role.MEMBER)
    pages = ["/tables/", "/tables/?tab=all", f"/tables/{table.pk}/", "/settings/integrations/", "/settings/integrations/new/"]
    pages += [f"/settings/integrations/{i.pk}/" for i in integrations.values()]
    pages += [f"/settings/integrations/{i.pk}/delete/" for i in integrations.values()]

    html = [owner.get(url).content.decode() for url in pages] + [member.get("/settings/integrations/").content.decode()]
    # A rejected edit re-renders the form: what was typed is not echoed either.
    rejected = owner.post(
        f"/settings/integrations/{integrations['WEBHOOK'].pk}/", {"name": "", "credential_secret": "whsec_TYPED_CANARY_0000"}
    )
    html.append(rejected.content.decode())
    with responses.RequestsMock() as provider:
        provider.add(responses.GET, "https://provider-a.test/templates", status=401, json={"message": "bad key"})
        html.append(owner.post(f"/settings/integrations/{integrations['EMAIL_PROVIDER'].pk}/check-connection/", follow=True).content.decode())

    secrets = [value for values in CANARIES.values() for value in values.values()] + ["whsec_TYPED_CANARY_0000"]
    assert rejected.status_code == 400
    for page in html:
        for secret in secrets:
            assert secret not in page and secret[8:20] not in page
