"""Bearer tokens and browser sessions on the API: 401 for no or bad credentials, 403 without a workspace."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from workspaces.models import ApiToken, Role, User
from workspaces.services import SESSION_WORKSPACE_KEY, add_member, create_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer a b", "Basic Zm9vOmJhcg==", "Bearer opbx_unknown_token_value_000000000000"])
def test_missing_or_bad_credentials_are_401_with_a_bearer_challenge(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)

    response = client.get("/api/integrations")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_tokens_and_inactive_users_are_401(workspace):
    add_member(workspace, "ada@example.com", Role.ADMIN)
    revoked, active = create_token(workspace, "ada@example.com"), create_token(workspace, "ada@example.com")
    ApiToken.objects.get(lookup=revoked[5:17]).revoke()
    client = APIClient()

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {revoked}")
    assert client.get("/api/integrations").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {active}")
    assert client.get("/api/integrations").status_code == 200
    User.objects.update(is_active=False)
    assert client.get("/api/integrations").status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(workspace, django_assert_num_queries):
    add_member(workspace, "ada@example.com", Role.MEMBER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {create_token(workspace, 'ada@example.com')}")

    client.get("/api/integrations")
    first_use = ApiToken.objects.get().last_used_at
    assert first_use is not None and (timezone.now() - first_use).total_seconds() < 5
    with django_assert_num_queries(2):  # the token lookup and the list: no write
        client.get("/api/integrations")


def test_a_browser_session_uses_the_api_with_csrf(workspace, other_workspace):
    add_member(workspace, "ada@example.com", Role.ADMIN, password="a long password 123")
    add_member(other_workspace, "ada@example.com", Role.MEMBER)
    browser = APIClient(enforce_csrf_checks=True)
    browser.login(email="ada@example.com", password="a long password 123")

    assert browser.get("/api/integrations").status_code == 200
    refused = browser.post("/api/integrations", {"name": "Hook", "type": "WEBHOOK"}, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]

    session = browser.session
    session[SESSION_WORKSPACE_KEY] = other_workspace.pk
    session.save()
    # The session's workspace decides: ada is only a MEMBER in globex.
    assert browser.get(f"/api/integrations/{'c' * 25}").status_code == 403


def test_a_logged_in_user_without_a_workspace_gets_403():
    User.objects.create_user(email="loner@example.com", password="a long password 123")
    browser = APIClient()
    browser.login(email="loner@example.com", password="a long password 123")

    assert browser.get("/api/integrations").status_code == 403
