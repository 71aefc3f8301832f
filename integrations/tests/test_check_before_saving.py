"""Test before saving (SPEC §13): POST /api/integrations/check with a create-shaped body, and
POST /api/integrations/<id>/check with a PATCH-shaped body merged over the stored values. They validate like a
write and check the values given (never the stored ones instead), and store nothing, not even the outcome."""

import pytest

from integrations.models import Integration, IntegrationAuditEvent
from integrations.services import create_integration
from workspaces.models import WorkspaceEvent

from . import services as svc

pytestmark = pytest.mark.django_db

NEW_KEY = "pat-na1-CANARY-typed-not-stored-9911"


@pytest.fixture
def crm(workspace):
    return create_integration(workspace, name="CRM", type="CRM_PLATFORM", config={"portalId": "12345678"},
                              credentials={"accessToken": svc.KEYS["hubspot"]})  # fmt: skip


def stored_state():
    """Everything a check could write: the integrations with their fingerprints and check fields, audit, events."""
    rows = Integration.objects.order_by("pk").values_list(
        "pk", "name", "config", "credential_fingerprints", "updated_at", "last_checked_at", "last_check_ok", "last_check_detail",
        "token_expires_at", "reconnect_needed",
    )  # fmt: skip
    return list(rows), IntegrationAuditEvent.objects.count(), WorkspaceEvent.objects.count()


def test_a_new_integration_is_checked_with_the_typed_values_and_nothing_is_stored(admin_api, mock):
    svc.hubspot_details(mock)
    before = stored_state()

    response = admin_api.post("/api/integrations/check", {
        "name": "CRM", "type": "CRM_PLATFORM", "config": {"portalId": "12345678"}, "credentials": {"accessToken": NEW_KEY},
    }, format="json")  # fmt: skip

    assert response.status_code == 200 and response.json()["ok"] is True
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {NEW_KEY}"
    assert stored_state() == before and not Integration.objects.exists()
    assert NEW_KEY not in response.content.decode()


def test_a_failing_new_integration_answers_the_failure_and_stores_nothing(admin_api, mock):
    svc.hubspot_details(mock, portal=99887766)

    response = admin_api.post("/api/integrations/check", {
        "name": "CRM", "type": "CRM_PLATFORM", "config": {"portalId": "12345678"}, "credentials": {"accessToken": NEW_KEY},
    }, format="json")  # fmt: skip

    assert response.status_code == 502 and "belongs to portal 99887766" in response.json()["detail"]
    assert not Integration.objects.exists() and not WorkspaceEvent.objects.exists()


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "type": "NOPE"}, "type"),
    ({"name": "", "type": "CRM_PLATFORM"}, "name"),
    ({"name": "x", "type": "CRM_PLATFORM", "config": {"nope": "1"}}, "config"),
    ({"name": "x", "type": "WEBHOOK", "config": {"url": "http://10.0.0.7/hook"}}, "config"),
    ({"name": "x", "type": "SLACK", "config": {"events": "email.sent,nope"}}, "config"),
    ({"name": "x", "type": "CRM_PLATFORM", "credentials": {"accessToken": ""}}, "credentials"),
])  # fmt: skip
def test_bad_input_is_a_400_like_a_write_and_calls_nothing(body, field, admin_api, mock):
    response = admin_api.post("/api/integrations/check", body, format="json")

    assert response.status_code == 400 and field in response.json()
    assert not mock.calls


def test_a_patch_is_merged_over_the_stored_values_and_the_typed_credential_is_the_one_used(admin_api, crm, mock):
    svc.hubspot_details(mock, portal=55555555)
    before = stored_state()

    response = admin_api.post(f"/api/integrations/{crm.pk}/check", {
        "config": {"portalId": "55555555"}, "credentials": {"accessToken": NEW_KEY},
    }, format="json")  # fmt: skip

    assert response.status_code == 200, response.content
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {NEW_KEY}"  # not the stored token (n8n #38877)
    assert stored_state() == before  # no fingerprint change, no lastCheckedAt change, no audit, no event


def test_a_patch_that_only_renames_checks_the_stored_credential(admin_api, crm, mock):
    svc.hubspot_details(mock)

    response = admin_api.post(f"/api/integrations/{crm.pk}/check", {"name": "Renamed CRM"}, format="json")

    assert response.status_code == 200
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {svc.KEYS['hubspot']}"
    assert Integration.objects.get(pk=crm.pk).name == "CRM" and Integration.objects.get(pk=crm.pk).last_checked_at is None


def test_a_patch_removing_a_credential_is_checked_without_it(admin_api, crm, mock):
    response = admin_api.post(f"/api/integrations/{crm.pk}/check", {"credentials": {"accessToken": None}}, format="json")

    assert response.status_code == 409 and "has no accessToken" in response.json()["detail"]
    assert not mock.calls and Integration.objects.get(pk=crm.pk).last_checked_at is None


def test_a_failing_patch_records_nothing_not_even_after_a_pass(admin_api, crm, mock):
    svc.hubspot_details(mock)
    assert admin_api.post(f"/api/integrations/{crm.pk}/check").status_code == 200  # recorded: passed
    svc.hubspot_details(mock, portal=99887766)
    before = stored_state()

    response = admin_api.post(f"/api/integrations/{crm.pk}/check", {"credentials": {"accessToken": NEW_KEY}}, format="json")

    assert response.status_code == 502
    assert stored_state() == before  # still "passed", and no integration.check_failed event


@pytest.mark.parametrize("body", [{"type": "WEBHOOK"}, {"config": {"portalId": 5}}, {"unknown": 1}, {"credentials": {"nope": "x"}}])
def test_a_bad_patch_is_a_400(body, admin_api, crm, mock):
    response = admin_api.post(f"/api/integrations/{crm.pk}/check", body, format="json")

    assert response.status_code == 400
    assert not mock.calls


def test_an_unsaved_oauth_token_is_used_as_typed_and_never_refreshed(admin_api, mock):
    svc.drive_file(mock, status=401)

    response = admin_api.post("/api/integrations/check", {
        "name": "Drive", "type": "CLOUD_STORAGE", "config": {"rootFolderId": "1AbcFolder"},
        "credentials": {"accessToken": svc.KEYS["drive_access"], "refreshToken": svc.KEYS["drive_refresh"]},
    }, format="json")  # fmt: skip

    # A refresh could rotate the typed refresh token, and a test stores nothing: the token endpoint is not called.
    assert response.status_code == 502 and [call.request.url.split("?")[0] for call in mock.calls] == [f"{svc.DRIVE}/drive/v3/files/1AbcFolder"]
    assert "rejected" in response.json()["detail"]
