"""Every page route x method x role x own/other workspace: MEMBERs read, ADMINs and OWNERs change (the
workspace's own settings: OWNERs only).

The routes come from the URL conf: a new page missing from PAGES fails `test_matrix_covers_every_page`.
"""

from urllib.parse import quote

import pytest
import responses
from django.contrib.messages import SUCCESS, get_messages
from django.urls import reverse

from opbox.tests.conftest import DOCUMENT_ENGINE_URL
from opbox.tests.routes import HOSTILE_IDS, routes, row_counts
from workspaces.models import Role

pytestmark = pytest.mark.django_db

MEMBER, ADMIN, OWNER = "member", "admin", "owner"  # the lowest role allowed
ALLOWED = {MEMBER: set(Role), ADMIN: {Role.ADMIN, Role.OWNER}, OWNER: {Role.OWNER}}
# Reachable without a workspace page's checks: signing in and out, the switcher, the redirect home.
OPEN_PAGES = {"login", "logout", "switch-workspace", "home"}

# page -> {method: (lowest role allowed, the status every allowed role gets)}. A change redirects to the
# settings list with a success message (a refusal would redirect there too, with an error).
PAGES = {
    "tables:index": {"GET": (MEMBER, 200)},
    "tables:table": {"GET": (MEMBER, 200)},
    "integration-settings:list": {"GET": (MEMBER, 200)},
    "integration-settings:create": {"GET": (ADMIN, 200), "POST": (ADMIN, 302)},
    "integration-settings:edit": {"GET": (ADMIN, 200), "POST": (ADMIN, 302)},
    "integration-settings:delete": {"GET": (ADMIN, 200), "POST": (ADMIN, 302)},
    "integration-settings:enabled": {"POST": (ADMIN, 302)},
    "integration-settings:site-email-provider": {"POST": (ADMIN, 302)},
    "emails:test-email": {"POST": (ADMIN, 302)},
    "integration-settings:check-connection": {"POST": (ADMIN, 302)},
    "integration-settings:test-new": {"POST": (ADMIN, 200)},  # "Test" on the add form: the outcome, nothing stored
    "integration-settings:test": {"POST": (ADMIN, 200)},  # "Test" on the edit form
    "emails:email": {"GET": (MEMBER, 200)},
    "emails:suppressions": {"GET": (MEMBER, 200)},
    "emails:suppression-add": {"POST": (ADMIN, 302)},
    "emails:suppression-remove": {"POST": (ADMIN, 302)},
    "workspace-settings": {"GET": (MEMBER, 200), "POST": (OWNER, 302)},
    "documents:document": {"GET": (MEMBER, 200)},
    "documents:download": {"GET": (MEMBER, 200)},
    "documents:test-document": {"GET": (ADMIN, 200), "POST": (ADMIN, 302)},
    "deliveries:delivery": {"GET": (MEMBER, 200)},
    "deliveries:redeliver": {"POST": (ADMIN, 302)},
}
FILES = {"documents:download"}  # answers a file, not a page (the accessibility test skips it)
OBJECT_PAGES = {
    "tables:table": "table",
    "integration-settings:edit": "integration",
    "integration-settings:delete": "integration",
    "integration-settings:enabled": "integration",
    "integration-settings:site-email-provider": "integration",
    "emails:test-email": "integration",
    "integration-settings:check-connection": "integration",
    "integration-settings:test": "integration",
    "emails:email": ("table", "row"),
    "emails:suppression-remove": "suppression",
    "documents:document": ("document_table", "document"),
    "documents:download": "document",
    "documents:test-document": "engine",
    "deliveries:delivery": ("delivery_table", "delivery"),
    "deliveries:redeliver": ("delivery_table", "delivery"),
}
# An object's URL argument, when it is not "<kind>_id".
URL_KWARGS = {"suppression": "address", "document_table": "table_id", "engine": "integration_id", "delivery_table": "table_id", "delivery": "row_id"}
# Where a change redirects, when not to the integrations list.
REDIRECTS = {
    "emails:suppression-add": "emails:suppressions", "emails:suppression-remove": "emails:suppressions",
    "workspace-settings": "workspace-settings", "deliveries:redeliver": "deliveries:delivery",
}  # fmt: skip
FORM = {
    "name": "Renamed", "enabled": "on", "config_fromEmail": "noreply@acme.example", "to": "ada@example.com",
    "address": "new@example.com", "template_id": "tpl-letter", "convert_to": "pdf", "data": '{"name": "Ada"}',
}  # fmt: skip


def test_matrix_covers_every_page():
    pages = {name for name, path in routes() if name and not path.startswith("api/")} - {"healthz", "readyz"}
    assert pages == set(PAGES) | OPEN_PAGES


def _path(route, objects, whose):
    kinds = OBJECT_PAGES.get(route, ())
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    path = reverse(route, kwargs={URL_KWARGS.get(kind, f"{kind}_id"): objects[whose][kind] for kind in kinds} or None)
    return path + "?type=EMAIL_PROVIDER" if route in ("integration-settings:create", "integration-settings:test-new") else path


def _call(client, method, path):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.GET, "https://provider-a.test/templates", json={"data": [], "has_more": False})
        provider.add(responses.POST, "https://provider-a.test/emails", json={"id": "m-1"})
        provider.add(responses.GET, f"{DOCUMENT_ENGINE_URL}/templates", json={"success": True, "data": [], "hasMore": False})
        provider.add(responses.POST, f"{DOCUMENT_ENGINE_URL}/render/tpl-letter", body=b"%PDF-1.7", content_type="application/pdf")
        return client.post(path, FORM) if method == "POST" else client.get(path)


CELLS = [(route, method, *cell) for route, methods in PAGES.items() for method, cell in methods.items()]
IDS = [f"{method} {route}" for route, method, _, _ in CELLS]


@pytest.mark.parametrize("route, method, lowest, status", CELLS, ids=IDS)
def test_anonymous_visitors_are_sent_to_log_in(route, method, lowest, status, client, objects):
    response = _call(client, method, _path(route, objects, "own"))

    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.OWNER])
@pytest.mark.parametrize("route, method, lowest, status", CELLS, ids=IDS)
def test_each_role_gets_what_it_may(route, method, lowest, status, role, pages_as, objects):
    allowed = role in ALLOWED[lowest]
    response = _call(pages_as(role), method, _path(route, objects, "own"))

    assert response.status_code == (status if allowed else 403), response.content[:300]
    if allowed and status == 302:
        assert response["Location"] == _path(REDIRECTS.get(route, "integration-settings:list"), objects, "own")
        assert [m.level for m in get_messages(response.wsgi_request)] == [SUCCESS]


OBJECT_CELLS = [(route, method) for route, method, _, _ in CELLS if route in OBJECT_PAGES]


@pytest.mark.parametrize("route, method", OBJECT_CELLS, ids=[f"{m} {r}" for r, m in OBJECT_CELLS])
def test_another_workspaces_object_is_a_404_even_for_its_owner_elsewhere(route, method, pages_as, objects):
    assert _call(pages_as(Role.OWNER), method, _path(route, objects, "other")).status_code == 404


HOSTILE_CELLS = [
    (route, method, kind)
    for route, method in OBJECT_CELLS
    for kind in ((OBJECT_PAGES[route],) if isinstance(OBJECT_PAGES[route], str) else OBJECT_PAGES[route])
]


@pytest.mark.parametrize("route, method, kind", HOSTILE_CELLS, ids=[f"{m} {r} {k}" for r, m, k in HOSTILE_CELLS])
def test_a_hostile_id_in_a_page_path_is_a_404_and_changes_nothing(route, method, kind, pages_as, objects):
    owner, before = pages_as(Role.OWNER), row_counts()

    for hostile in HOSTILE_IDS:
        path = _path(route, objects, "own").replace(quote(objects["own"][kind], safe="@"), quote(hostile, safe=""), 1)
        assert path != _path(route, objects, "own")
        response = _call(owner, method, path)
        assert response.status_code == 404, (path[:120], response.content[:300])

    assert row_counts() == before
