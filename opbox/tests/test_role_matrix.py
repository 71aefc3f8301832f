"""Every API route x method x role x own/other workspace, against SPEC §3's matrix.

The routes come from the URL conf: a new /api/ route missing from MATRIX fails `test_matrix_covers_every_api_route`.
"""

import pytest
import responses

from opbox.tests.routes import routes
from workspaces.models import Role

pytestmark = pytest.mark.django_db

MEMBER, ADMIN = "member", "admin"  # the lowest role allowed
PUBLIC_API_ROUTES = {"api-schema", "api-docs"}  # documentation: readable without a token

# route name -> {method: lowest role allowed}; "object" routes take an id from the caller's workspace.
MATRIX = {
    "integration-list": {"GET": MEMBER, "POST": ADMIN},
    "integration-stats": {"GET": MEMBER},
    "email-provider-a-templates": {"GET": MEMBER},
    "email-provider-b-templates": {"GET": MEMBER},
    "integration-detail": {"GET": ADMIN, "PATCH": ADMIN, "DELETE": ADMIN},
    "integration-audit": {"GET": ADMIN},
    "email-send": {"POST": MEMBER},
    "email-log-init": {"POST": ADMIN},
    "table-list": {"GET": MEMBER},
    "table-detail": {"GET": MEMBER},
    "table-rows": {"GET": MEMBER},
    "table-rows-csv": {"GET": MEMBER},
}
OBJECT_ROUTES = {
    "integration-detail": "integration",
    "integration-audit": "integration",
    "table-detail": "table",
    "table-rows": "table",
    "table-rows-csv": "table",
}
ROLES = [Role.MEMBER, Role.ADMIN, Role.OWNER]
BODIES = {
    ("integration-list", "POST"): {"name": "Hook", "type": "WEBHOOK", "config": {"url": "https://hooks.example/x"}},
    ("integration-detail", "PATCH"): {"name": "Renamed"},
    ("email-send", "POST"): {"to": "a@example.com", "subject": "Hi", "text": "Hello"},
}


def test_matrix_covers_every_api_route():
    assert {name for name, path in routes() if path.startswith("api/")} == set(MATRIX) | PUBLIC_API_ROUTES


def _path(route, objects, whose):
    from django.urls import reverse

    kind = OBJECT_ROUTES.get(route)
    if kind is None:
        return reverse(route)
    return reverse(route, kwargs={f"{kind}_id": objects[whose][kind]})


def _call(client, method, path, body):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.GET, "https://provider-a.test/templates", json={"data": [], "has_more": False})
        provider.add(responses.GET, "https://provider-b.test/v3/templates", json={"result": [], "_metadata": {}})
        provider.add(responses.POST, "https://provider-a.test/emails", json={"id": "m-1"})
        return getattr(client, method.lower())(path, body, format="json") if body else getattr(client, method.lower())(path)


CELLS = [(route, method, lowest) for route, methods in MATRIX.items() for method, lowest in methods.items()]


@pytest.mark.parametrize("route, method, lowest", CELLS, ids=[f"{m} {r}" for r, m, _ in CELLS])
def test_anonymous_callers_get_401(route, method, lowest, anon_api, objects):
    assert _call(anon_api, method, _path(route, objects, "own"), BODIES.get((route, method))).status_code == 401


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route, method, lowest", CELLS, ids=[f"{m} {r}" for r, m, _ in CELLS])
def test_each_role_gets_what_the_spec_allows(route, method, lowest, role, api_as, objects):
    allowed = lowest == MEMBER or role in (Role.ADMIN, Role.OWNER)
    response = _call(api_as(role), method, _path(route, objects, "own"), BODIES.get((route, method)))

    if allowed:
        assert response.status_code < 400 or response.status_code in (409, 502), response.content
    else:
        assert response.status_code == 403


OBJECT_CELLS = [
    (route, method, role)
    for route, method, lowest in CELLS
    if route in OBJECT_ROUTES
    for role in ROLES
    if lowest == MEMBER or role != Role.MEMBER
]


@pytest.mark.parametrize("route, method, role", OBJECT_CELLS, ids=[f"{m} {r} as {role}" for r, m, role in OBJECT_CELLS])
def test_another_workspaces_object_is_a_404(route, method, role, api_as, objects):
    response = _call(api_as(role), method, _path(route, objects, "other"), BODIES.get((route, method)))

    assert response.status_code == 404
