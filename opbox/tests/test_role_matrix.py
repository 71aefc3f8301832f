"""Every API route x method x role x own/other workspace, against SPEC §3's matrix.

The routes come from the URL conf: a new /api/ route missing from MATRIX fails `test_matrix_covers_every_api_route`.
"""

from urllib.parse import quote

import pytest
import responses

from opbox.tests.conftest import DOCUMENT_ENGINE_URL
from opbox.tests.routes import HOSTILE_IDS, routes, row_counts
from workspaces.models import Role

pytestmark = pytest.mark.django_db

MEMBER, ADMIN, OWNER = "member", "admin", "owner"  # the lowest role allowed
ALLOWED = {MEMBER: set(Role), ADMIN: {Role.ADMIN, Role.OWNER}, OWNER: {Role.OWNER}}
PUBLIC_API_ROUTES = {"api-schema", "api-docs"}  # documentation: readable without a token

# route name -> {method: (lowest role allowed, the status every allowed role gets)};
# "object" routes take an id from the caller's workspace.
MATRIX = {
    "integration-list": {"GET": (MEMBER, 200), "POST": (ADMIN, 201)},
    "integration-stats": {"GET": (MEMBER, 200)},
    "email-provider-a-templates": {"GET": (MEMBER, 200)},
    "email-provider-b-templates": {"GET": (MEMBER, 200)},
    "integration-detail": {"GET": (ADMIN, 200), "PATCH": (ADMIN, 200), "DELETE": (ADMIN, 204)},
    "integration-audit": {"GET": (ADMIN, 200)},
    "integration-check": {"POST": (ADMIN, 200)},  # the provider's templates, with the stored key
    "integration-check-unsaved": {"POST": (ADMIN, 200)},  # test before saving: a webhook's signed test event
    "email-send": {"POST": (MEMBER, 202)},  # queued: a send waits for a commit, and this test's never comes
    "email-send-batch": {"POST": (MEMBER, 202)},  # queued, as above
    "email-log-init": {"POST": (ADMIN, 200)},
    "table-list": {"GET": (MEMBER, 200)},
    "table-detail": {"GET": (MEMBER, 200)},
    "table-rows": {"GET": (MEMBER, 200)},
    "table-rows-csv": {"GET": (MEMBER, 200)},
    "email-detail": {"GET": (MEMBER, 200)},
    "suppression-list": {"GET": (MEMBER, 200), "POST": (ADMIN, 201)},
    "suppression-detail": {"DELETE": (ADMIN, 204)},
    "workspace": {"GET": (MEMBER, 200), "PATCH": (OWNER, 200)},
    "privacy-erase": {"POST": (OWNER, 200)},
    "document-engine-templates": {"GET": (MEMBER, 200)},
    "document-render": {"POST": (MEMBER, 201)},
    "document-detail": {"GET": (MEMBER, 200)},
    "document-file": {"GET": (MEMBER, 200)},
    "delivery-redeliver": {"POST": (ADMIN, 202)},  # queued again: its attempt waits for a commit, which never comes here
}
OBJECT_ROUTES = {
    "integration-detail": "integration",
    "integration-audit": "integration",
    "integration-check": "integration",
    "table-detail": "table",
    "table-rows": "table",
    "table-rows-csv": "table",
    "email-detail": "email",
    "suppression-detail": "suppression",
    "document-detail": "document",
    "document-file": "document",
    "delivery-redeliver": "delivery",
}
URL_KWARGS = {"suppression": "address"}  # an object's URL argument, when it is not "<kind>_id"
ROLES = [Role.MEMBER, Role.ADMIN, Role.OWNER]
BODIES = {
    ("integration-list", "POST"): {"name": "Hook", "type": "WEBHOOK", "config": {"url": "https://hooks.example/x"}},
    ("integration-detail", "PATCH"): {"name": "Renamed"},
    ("integration-check-unsaved", "POST"): {"name": "Hook", "type": "WEBHOOK", "config": {"url": "https://hooks.example/x"},
                                            "credentials": {"secret": "whsec_dGVzdA=="}},
    ("email-send", "POST"): {"to": "a@example.com", "subject": "Hi", "text": "Hello"},
    ("email-send-batch", "POST"): {"emails": [{"to": "a@example.com", "subject": "Hi", "text": "Hello"}]},
    ("suppression-list", "POST"): {"address": "new@example.com"},
    ("workspace", "PATCH"): {"emailLogRetentionDays": 30},
    ("privacy-erase", "POST"): {"address": "a@example.com"},
    ("document-render", "POST"): {"templateId": "tpl-letter", "data": {"name": "Ada"}},
}


# Public routes whose authentication is a provider's signature, not a token (SPEC §9): no role is enough,
# a valid signature with the integration's own secret is, and one workspace's secret opens no other's integration.
SIGNED_ROUTES = {"email-provider-a-webhook": "EMAIL_PROVIDER", "email-provider-b-webhook": "EMAIL_PROVIDER_ALT"}


def test_matrix_covers_every_api_route():
    assert {name for name, path in routes() if path.startswith("api/")} == set(MATRIX) | PUBLIC_API_ROUTES | set(SIGNED_ROUTES)


def _path(route, objects, whose):
    from django.urls import reverse

    kind = OBJECT_ROUTES.get(route)
    if kind is None:
        return reverse(route)
    return reverse(route, kwargs={URL_KWARGS.get(kind, f"{kind}_id"): objects[whose][kind]})


def _call(client, method, path, body):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        provider.add(responses.GET, "https://provider-a.test/templates", json={"data": [], "has_more": False})
        provider.add(responses.GET, "https://provider-b.test/v3/templates", json={"result": [], "_metadata": {}})
        provider.add(responses.POST, "https://provider-a.test/emails", json={"id": "m-1"})
        provider.add(responses.POST, "https://hooks.example/x", json={"received": True})
        provider.add(responses.GET, f"{DOCUMENT_ENGINE_URL}/templates", json={"success": True, "data": [], "hasMore": False})
        provider.add(responses.POST, f"{DOCUMENT_ENGINE_URL}/render/tpl-letter", body=b"%PDF-1.7", content_type="application/pdf")
        return getattr(client, method.lower())(path, body, format="json") if body else getattr(client, method.lower())(path)


CELLS = [(route, method, *cell) for route, methods in MATRIX.items() for method, cell in methods.items()]
IDS = [f"{method} {route}" for route, method, _, _ in CELLS]


@pytest.mark.parametrize("route, method, lowest, status", CELLS, ids=IDS)
def test_anonymous_callers_get_401(route, method, lowest, status, anon_api, objects):
    assert _call(anon_api, method, _path(route, objects, "own"), BODIES.get((route, method))).status_code == 401


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route, method, lowest, status", CELLS, ids=IDS)
def test_each_role_gets_what_the_spec_allows(route, method, lowest, status, role, api_as, objects):
    allowed = role in ALLOWED[lowest]
    response = _call(api_as(role), method, _path(route, objects, "own"), BODIES.get((route, method)))

    assert response.status_code == (status if allowed else 403), response.content[:300]


OBJECT_CELLS = [
    (route, method, role)
    for route, method, lowest, _ in CELLS
    if route in OBJECT_ROUTES
    for role in ROLES
    if role in ALLOWED[lowest]
]


@pytest.mark.parametrize("route, method, role", OBJECT_CELLS, ids=[f"{m} {r} as {role}" for r, m, role in OBJECT_CELLS])
def test_another_workspaces_object_is_a_404(route, method, role, api_as, objects):
    response = _call(api_as(role), method, _path(route, objects, "other"), BODIES.get((route, method)))

    assert response.status_code == 404


OWNER_OBJECT_CELLS = [(route, method) for route, method, role in OBJECT_CELLS if role == Role.OWNER]


@pytest.mark.parametrize("route, method", OWNER_OBJECT_CELLS, ids=[f"{m} {r}" for r, m in OWNER_OBJECT_CELLS])
def test_a_hostile_object_id_is_a_404_and_changes_nothing(route, method, owner_api, objects):
    real = objects["own"][OBJECT_ROUTES[route]]
    before = row_counts()

    for hostile in HOSTILE_IDS:
        path = _path(route, objects, "own").replace(quote(real, safe="@"), quote(hostile, safe=""))
        assert path != _path(route, objects, "own")
        response = _call(owner_api, method, path, BODIES.get((route, method)))
        assert response.status_code == 404, (path[:120], response.content[:300])

    assert row_counts() == before


@pytest.fixture
def signed(make_integration, other_workspace):
    """For each signed route: an own and another workspace's integration with their own webhook settings,
    and a function signing a body with the own one's secret."""
    from email_logs.tests.signing import RESEND_SECRET, SendGridSigner, resend_headers

    signer, theirs = SendGridSigner(), SendGridSigner()
    other_secret = "whsec_" + "b3RoZXItd29ya3NwYWNlLXNlY3JldC0wMTIzNDU2Nzg5"
    settings = {
        "EMAIL_PROVIDER": (
            lambda secret: {"credentials": {"apiKey": "re_test_1234567890", "webhookSigningSecret": secret}},
            RESEND_SECRET, other_secret, lambda body: resend_headers(RESEND_SECRET, body),
        ),
        "EMAIL_PROVIDER_ALT": (
            lambda key: {"config": {"fromEmail": "a@acme.example", "webhookVerificationKey": key}},
            signer.verification_key, theirs.verification_key, signer.headers,
        ),
    }  # fmt: skip
    made = {}
    for type_name, (setting, own_secret, other_secret_, sign) in settings.items():
        own = make_integration(type_name, **setting(own_secret))
        other = make_integration(type_name, in_workspace=other_workspace, **setting(other_secret_))
        made[type_name] = {"own": own.pk, "other": other.pk, "sign": sign}
    return made


def _post_signed(client, route, integration_id, body, headers):
    from django.urls import reverse

    return client.post(reverse(route, kwargs={"integration_id": integration_id}), body, content_type="application/json", **headers)


@pytest.mark.parametrize("role", [None, *ROLES], ids=["anonymous", *ROLES])
@pytest.mark.parametrize("route", SIGNED_ROUTES)
def test_a_token_of_any_role_is_no_signature(route, role, anon_api, api_as, signed):
    client = anon_api if role is None else api_as(role)

    response = _post_signed(client, route, signed[SIGNED_ROUTES[route]]["own"], b"[]", {})

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid signature."})


@pytest.mark.parametrize("route", SIGNED_ROUTES)
def test_a_valid_signature_is_enough_without_any_token(route, anon_api, signed):
    own = signed[SIGNED_ROUTES[route]]
    body = b'{"type": "email.delivered", "created_at": "2026-11-25T10:00:00Z", "data": {"email_id": "x"}}'
    body = body if route == "email-provider-a-webhook" else b'[{"event": "delivered", "email": "a@b.example", "timestamp": 1, "sg_event_id": "e"}]'

    response = _post_signed(anon_api, route, own["own"], body, own["sign"](body))

    assert response.status_code == 200  # (an email this integration did not send: counted as unmatched)


@pytest.mark.parametrize("route", SIGNED_ROUTES)
def test_our_signature_opens_no_other_workspaces_integration(route, anon_api, signed):
    own = signed[SIGNED_ROUTES[route]]
    body = b"[]" if route == "email-provider-b-webhook" else b"{}"

    response = _post_signed(anon_api, route, own["other"], body, own["sign"](body))

    assert (response.status_code, response.json()) == (401, {"detail": "Invalid signature."})
