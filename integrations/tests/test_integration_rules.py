"""The rules of SPEC §4 through the API: validation (nothing written on a 400), merge patch,
type immutability, the site email provider, fingerprints and shapes."""

import itertools
import re
import types

import pytest
from django.db import IntegrityError, transaction

from integrations.models import Integration
from opbox import ids as public_ids

pytestmark = pytest.mark.django_db

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def email_body(**overrides):
    body = {"name": "Production Email", "type": "EMAIL_PROVIDER",
            "config": {"fromEmail": "noreply@example.com", "fromName": "Opbox Notifications"},
            "credentials": {"apiKey": "key.a1b2c3d4e5f6g7h8i9j0k1l2m3n4"}}  # fmt: skip
    return {**body, **overrides}


def snapshot():
    return list(Integration.objects.order_by("pk").values("id", "name", "type", "config", "credential_fingerprints", "enabled", "is_site_email_provider"))


def test_create_answers_the_seed_detail_shape(admin_api):
    response = admin_api.post("/api/integrations", email_body(setAsSiteEmailProvider=True), format="json")

    assert response.status_code == 201
    body = response.json()
    assert list(body)[:9] == ["id", "name", "type", "config", "enabled", "credentialsConfigured", "isSiteEmailProvider", "createdAt", "updatedAt"]
    assert body["lastCheckedAt"] is None and body["lastCheckOk"] is None  # never checked yet
    assert re.fullmatch(r"c[0-9a-z]{24}", body["id"])
    assert body["config"] == {"fromEmail": "noreply@example.com", "fromName": "Opbox Notifications", "apiKeyFingerprint": "key.a1b2...****"}
    assert TIMESTAMP.match(body["createdAt"]) and TIMESTAMP.match(body["updatedAt"])
    listed = admin_api.get("/api/integrations").json()
    assert list(listed[0]) == ["id", "name", "type", "config", "enabled", "isSiteEmailProvider", "createdAt", "updatedAt"]


def test_ids_sort_by_creation_and_the_list_is_newest_first(admin_api, monkeypatch):
    # Ids sort by their millisecond only: the ids' clock steps 1 ms per id, so no two requests share one.
    start_ms = 1_000_000_000_000
    clock_ns = itertools.count(start_ms * 1_000_000, 1_000_000)
    monkeypatch.setattr(public_ids, "time", types.SimpleNamespace(time_ns=lambda: next(clock_ns)))

    ids = [admin_api.post("/api/integrations", email_body(name=f"n{i}"), format="json").json()["id"] for i in range(3)]

    assert all(0 <= int(id_[1:10], 36) - start_ms < 1000 for id_ in ids)  # minted on the stepped clock
    assert ids == sorted(ids)
    assert [i["id"] for i in admin_api.get("/api/integrations").json()] == ids[::-1]


@pytest.mark.parametrize(
    "body, field",
    [
        (email_body(type="FAX"), "type"),
        (email_body(name=""), "name"),
        (email_body(name="   "), "name"),
        (email_body(name="x" * 256), "name"),
        (email_body(name=5), "name"),
        (email_body(config={"fromEmail": "not an email"}), "config"),
        (email_body(config={"bogus": "x"}), "config"),
        (email_body(config={"fromName": 42}), "config"),
        (email_body(config={"fromName": "x" * 2049}), "config"),
        (email_body(config=["a"]), "config"),
        (email_body(credentials={"password": "x"}), "credentials"),
        (email_body(credentials={"apiKey": ""}), "credentials"),
        (email_body(enabled="yes"), "enabled"),
        ({"name": "Hook", "type": "WEBHOOK", "config": {"url": "ftp://files.example"}}, "config"),
        ({"name": "Hook", "type": "WEBHOOK", "config": {"url": "not a url"}}, "config"),
        ({"name": "Chat", "type": "SLACK", "config": {"webhookUrl": "http://hooks.slack.example/x"}}, "config"),
        ({"name": "Hook", "type": "WEBHOOK", "setAsSiteEmailProvider": True}, "setAsSiteEmailProvider"),
        (email_body(enabled=False, setAsSiteEmailProvider=True), "setAsSiteEmailProvider"),
        (email_body(id="c000000000000000000000000"), "id"),
        (email_body(workspace="globex"), "workspace"),
        (email_body(isSiteEmailProvider=True), "isSiteEmailProvider"),
        (email_body(createdAt="2020-01-01T00:00:00.000Z"), "createdAt"),
        (email_body(credentialFingerprints={"apiKey": "x"}), "credentialFingerprints"),
    ],
)
def test_invalid_creates_are_400s_that_write_nothing(admin_api, body, field):
    response = admin_api.post("/api/integrations", body, format="json")

    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Integration.objects.exists()


def test_unknown_keys_name_the_allowed_ones(admin_api):
    response = admin_api.post("/api/integrations", {"name": "S", "type": "CLOUD_STORAGE", "credentials": {"apiKey": "x"}}, format="json")

    assert "accessToken, refreshToken" in " ".join(response.json()["credentials"])


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"'])
def test_malformed_bodies_are_400s(admin_api, raw):
    response = admin_api.post("/api/integrations", raw, content_type="application/json")

    assert response.status_code == 400
    assert not Integration.objects.exists()


def test_patch_merges_config_and_credentials(admin_api):
    created = admin_api.post("/api/integrations", email_body(), format="json").json()
    url = f"/api/integrations/{created['id']}"

    patched = admin_api.patch(url, {"config": {"fromName": None, "fromEmail": "team@example.com"}, "name": "Renamed"}, format="json").json()
    assert patched["config"] == {"fromEmail": "team@example.com", "apiKeyFingerprint": "key.a1b2...****"}
    assert patched["name"] == "Renamed" and patched["updatedAt"] >= created["updatedAt"]

    patched = admin_api.patch(url, {"credentials": {"apiKey": "re_newkey_0123456789abcdef"}}, format="json").json()
    assert patched["config"]["apiKeyFingerprint"] == "re_new...****"  # 26 characters: a quarter is 6
    assert Integration.objects.get().credentials == {"apiKey": "re_newkey_0123456789abcdef"}

    patched = admin_api.patch(url, {"credentials": {"apiKey": None}}, format="json").json()
    assert "apiKeyFingerprint" not in patched["config"] and patched["credentialsConfigured"] is False


def test_the_type_is_fixed_at_creation(admin_api):
    created = admin_api.post("/api/integrations", email_body(), format="json").json()
    url = f"/api/integrations/{created['id']}"

    assert admin_api.patch(url, {"type": "EMAIL_PROVIDER"}, format="json").status_code == 200
    assert admin_api.patch(url, {"type": "WEBHOOK"}, format="json").status_code == 400
    assert Integration.objects.get().type == "EMAIL_PROVIDER"


def test_a_rejected_patch_changes_nothing(admin_api):
    created = admin_api.post("/api/integrations", email_body(), format="json").json()
    before = snapshot()

    response = admin_api.patch(
        f"/api/integrations/{created['id']}",
        {"name": "Changed", "config": {"fromEmail": "broken"}, "credentials": {"apiKey": "re_would_change_12345"}},
        format="json",
    )

    assert response.status_code == 400
    assert snapshot() == before


def test_the_site_provider_flag_moves_and_clears(admin_api):
    first = admin_api.post("/api/integrations", email_body(setAsSiteEmailProvider=True), format="json").json()
    second = admin_api.post("/api/integrations", email_body(type="EMAIL_PROVIDER_ALT", setAsSiteEmailProvider=True), format="json").json()
    holders = lambda: list(Integration.objects.filter(is_site_email_provider=True).values_list("id", flat=True))  # noqa: E731

    assert holders() == [second["id"]]
    admin_api.patch(f"/api/integrations/{first['id']}", {"setAsSiteEmailProvider": True}, format="json")
    assert holders() == [first["id"]]
    admin_api.patch(f"/api/integrations/{first['id']}", {"enabled": False}, format="json")
    assert holders() == []
    admin_api.patch(f"/api/integrations/{second['id']}", {"setAsSiteEmailProvider": True}, format="json")
    admin_api.delete(f"/api/integrations/{second['id']}")
    assert holders() == []


def test_the_database_itself_allows_one_site_provider_per_workspace(make_integration, other_workspace):
    make_integration("EMAIL_PROVIDER", set_as_site_email_provider=True)
    make_integration("EMAIL_PROVIDER", in_workspace=other_workspace, set_as_site_email_provider=True)  # another workspace: fine
    second = make_integration("EMAIL_PROVIDER")

    with pytest.raises(IntegrityError), transaction.atomic():
        Integration.objects.filter(pk=second.pk).update(is_site_email_provider=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        webhook = make_integration("WEBHOOK")
        Integration.objects.filter(pk=webhook.pk).update(is_site_email_provider=True)


def test_stats_count_by_state_and_type(admin_api, make_integration):
    make_integration("EMAIL_PROVIDER")
    make_integration("EMAIL_PROVIDER")
    make_integration("EMAIL_PROVIDER_ALT", enabled=False)

    assert admin_api.get("/api/integrations/stats").json() == {
        "total": 3, "enabled": 2, "disabled": 1, "byType": {"EMAIL_PROVIDER": 2, "EMAIL_PROVIDER_ALT": 1}
    }  # fmt: skip


@pytest.mark.parametrize("path", ["/api/integrations", "/api/integrations/stats"])
def test_list_and_stats_queries_do_not_grow_with_integrations(admin_api, make_integration, django_assert_num_queries, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_integration("EMAIL_PROVIDER")
    admin_api.get(path)  # the token's first use records last_used_at
    with CaptureQueriesContext(connection) as one:
        admin_api.get(path)
    for _ in range(49):
        make_integration("WEBHOOK")
    with django_assert_num_queries(len(one)):
        assert admin_api.get(path).status_code == 200
