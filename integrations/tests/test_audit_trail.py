"""Audit trail: who changed which fields of an integration, and when; never a credential's value."""

import pytest

from integrations.models import IntegrationAuditEvent

pytestmark = pytest.mark.django_db

SECRET = "re_CANARY_audit_0f9e8d7c6b"


def create(api, **overrides):
    body = {"name": "Production Email", "type": "EMAIL_PROVIDER", "config": {"fromEmail": "noreply@acme.example"},
            "credentials": {"apiKey": SECRET}}  # fmt: skip
    return api.post("/api/integrations", {**body, **overrides}, format="json").json()


def test_every_change_is_recorded_with_actor_and_fields(admin_api, owner_api):
    integration = create(admin_api)
    owner_api.patch(f"/api/integrations/{integration['id']}", {"name": "Renamed", "config": {"fromName": "Acme"}}, format="json")
    owner_api.patch(f"/api/integrations/{integration['id']}", {"credentials": {"apiKey": "re_other_key_1234567"}}, format="json")
    owner_api.patch(f"/api/integrations/{integration['id']}", {"enabled": False}, format="json")

    trail = owner_api.get(f"/api/integrations/{integration['id']}/audit").json()

    assert [e["action"] for e in trail] == ["updated", "updated", "updated", "created"]
    assert trail[0]["changes"] == ["enabled"]
    assert trail[1]["changes"] == ["credentials.apiKey"]
    assert trail[2]["changes"] == ["config.fromName", "name"]
    assert "credentials.apiKey" in trail[3]["changes"]
    assert trail[3]["actor"].startswith("admin") and trail[0]["actor"].startswith("owner")
    assert all(e["createdAt"].endswith("Z") for e in trail)


def test_moving_the_site_provider_is_recorded_on_both_integrations(admin_api):
    first = create(admin_api, setAsSiteEmailProvider=True)
    second = create(admin_api, name="Backup", setAsSiteEmailProvider=True)

    first_trail = admin_api.get(f"/api/integrations/{first['id']}/audit").json()
    second_trail = admin_api.get(f"/api/integrations/{second['id']}/audit").json()

    assert first_trail[0]["changes"] == ["isSiteEmailProvider"]
    assert "isSiteEmailProvider" in second_trail[0]["changes"]


def test_a_patch_that_changes_nothing_records_nothing(admin_api):
    integration = create(admin_api)
    admin_api.patch(f"/api/integrations/{integration['id']}", {"name": "Production Email"}, format="json")

    assert IntegrationAuditEvent.objects.filter(integration_id=integration["id"]).count() == 1


def test_deletion_is_recorded_and_the_trail_outlives_the_integration(admin_api):
    integration = create(admin_api)
    admin_api.delete(f"/api/integrations/{integration['id']}")

    events = IntegrationAuditEvent.objects.filter(integration_id=integration["id"])
    assert [e.action for e in events] == ["deleted", "created"]
    assert events[0].integration_name == "Production Email"


def test_the_trail_never_holds_a_credential_value(admin_api):
    integration = create(admin_api)
    admin_api.patch(f"/api/integrations/{integration['id']}", {"credentials": {"apiKey": "re_second_secret_99"}}, format="json")

    stored = repr(list(IntegrationAuditEvent.objects.values()))
    assert SECRET not in stored and "re_second_secret_99" not in stored


def test_members_and_other_workspaces_cannot_read_the_trail(admin_api, member_api, other_admin_api):
    integration = create(admin_api)

    assert member_api.get(f"/api/integrations/{integration['id']}/audit").status_code == 403
    assert other_admin_api.get(f"/api/integrations/{integration['id']}/audit").status_code == 404
