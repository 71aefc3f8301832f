"""Every page route x method x role x own/other workspace: MEMBERs read, ADMINs and OWNERs change.

The routes come from the URL conf: a new page missing from PAGES fails `test_matrix_covers_every_page`.
"""

import pytest
import responses
from django.urls import reverse

from opbox.tests.routes import routes
from workspaces.models import Role

pytestmark = pytest.mark.django_db

MEMBER, ADMIN = "member", "admin"  # the lowest role allowed
# Reachable without a workspace page's checks: signing in and out, the switcher, the redirect home.
OPEN_PAGES = {"login", "logout", "switch-workspace", "home"}

PAGES = {
    "tables:index": {"GET": MEMBER},
    "tables:table": {"GET": MEMBER},
    "integration-settings:list": {"GET": MEMBER},
    "integration-settings:create": {"GET": ADMIN, "POST": ADMIN},
    "integration-settings:edit": {"GET": ADMIN, "POST": ADMIN},
    "integration-settings:delete": {"GET": ADMIN, "POST": ADMIN},
    "integration-settings:enabled": {"POST": ADMIN},
    "integration-settings:site-email-provider": {"POST": ADMIN},
    "integration-settings:test-email": {"POST": ADMIN},
    "integration-settings:check-connection": {"POST": ADMIN},
}
OBJECT_PAGES = {
    "tables:table": "table",
    "integration-settings:edit": "integration",
    "integration-settings:delete": "integration",
    "integration-settings:enabled": "integration",
    "integration-settings:site-email-provider": "integration",
    "integration-settings:test-email": "integration",
    "integration-settings:check-connection": "integration",
}
FORM = {"name": "Renamed", "enabled": "on", "config_fromEmail": "noreply@acme.example", "to": "ada@example.com"}


def test_matrix_covers_every_page():
    pages = {name for name, path in routes() if name and not path.startswith("api/")} - {"healthz", "readyz"}
    assert pages == set(PAGES) | OPEN_PAGES


def _path(route, objects, whose):
    kind = OBJECT_PAGES.get(route)
    path = reverse(route, kwargs={f"{kind}_id": objects[whose][kind]} if kind else None)
    return path + "?type=EMAIL_PROVIDER" if route == "integration-settings:create" else path


def _call(client, method, path):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.GET, "https://provider-a.test/templates", json={"data": [], "has_more": False})
        provider.add(responses.POST, "https://provider-a.test/emails", json={"id": "m-1"})
        return client.post(path, FORM) if method == "POST" else client.get(path)


CELLS = [(route, method, lowest) for route, methods in PAGES.items() for method, lowest in methods.items()]
IDS = [f"{method} {route}" for route, method, _ in CELLS]


@pytest.mark.parametrize("route, method, lowest", CELLS, ids=IDS)
def test_anonymous_visitors_are_sent_to_log_in(route, method, lowest, client, objects):
    response = _call(client, method, _path(route, objects, "own"))

    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.OWNER])
@pytest.mark.parametrize("route, method, lowest", CELLS, ids=IDS)
def test_each_role_gets_what_it_may(route, method, lowest, role, pages_as, objects):
    allowed = lowest == MEMBER or role != Role.MEMBER
    response = _call(pages_as(role), method, _path(route, objects, "own"))

    if allowed:
        assert response.status_code in (200, 302), response.content[:300]
    else:
        assert response.status_code == 403


OBJECT_CELLS = [(route, method) for route, method, _ in CELLS if route in OBJECT_PAGES]


@pytest.mark.parametrize("route, method", OBJECT_CELLS, ids=[f"{m} {r}" for r, m in OBJECT_CELLS])
def test_another_workspaces_object_is_a_404_even_for_its_owner_elsewhere(route, method, pages_as, objects):
    assert _call(pages_as(Role.OWNER), method, _path(route, objects, "other")).status_code == 404
