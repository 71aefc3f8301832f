"""The Bearer token check reads one row per request and keeps nothing between requests."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from workspaces.authentication import token_for
from workspaces.models import ApiToken
from workspaces.services import add_member, create_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def token(workspace):
    add_member(workspace, "ada@example.com", "ADMIN")
    return create_token(workspace, "ada@example.com")


def client_with(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_a_token_revoked_after_use_is_refused_on_the_next_request(token):
    client = client_with(token)
    assert client.get("/api/integrations").status_code == 200

    ApiToken.objects.get(lookup=token[5:17]).revoke()

    assert client.get("/api/integrations").status_code == 401


def test_a_user_deactivated_after_use_is_refused_on_the_next_request(token):
    client = client_with(token)
    assert client.get("/api/integrations").status_code == 200

    get_user_model().objects.filter(email="ada@example.com").update(is_active=False)

    assert client.get("/api/integrations").status_code == 401


def test_the_check_is_one_query_with_membership_user_and_workspace_attached(token, workspace):
    with CaptureQueriesContext(connection) as queries:
        found = token_for(token)

    assert len(queries) == 1
    membership = found.membership
    assert (membership.role, membership.workspace.slug, membership.workspace.name) == ("ADMIN", workspace.slug, workspace.name)
    assert membership.user.email == "ada@example.com" and membership.user.is_authenticated
    assert len(queries) == 1  # nothing above loaded lazily
    assert membership.user.date_joined is not None  # a field not read is loaded on demand, never wrong


def test_a_wrong_secret_with_a_real_lookup_part_is_refused(token):
    forged = token[:17] + ("A" if token[17] != "A" else "B") + token[18:]

    assert token_for(forged) is None
    assert client_with(forged).get("/api/integrations").status_code == 401
