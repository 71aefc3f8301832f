"""The workspace and its Email Log retention: every member reads it, only the OWNER changes it (API and the
Settings page), only to 7..3650 days or null, and every change is audited."""

import pytest
from django.db import IntegrityError, transaction

from workspaces.models import AuditEvent, Role, Workspace

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.OWNER])
def test_every_member_reads_the_workspace_and_their_role(role, api_as, workspace):
    workspace.email_log_retention_days = 90
    workspace.save()

    response = api_as(role).get("/api/workspace")

    assert response.status_code == 200
    assert response.json() == {"slug": "acme", "name": "Acme Legal", "role": role, "emailLogRetentionDays": 90}


def test_the_owner_sets_the_retention_and_the_change_is_audited(owner_api, workspace):
    response = owner_api.patch("/api/workspace", {"emailLogRetentionDays": 30}, format="json")

    assert response.status_code == 200 and response.json()["emailLogRetentionDays"] == 30
    workspace.refresh_from_db()
    assert workspace.email_log_retention_days == 30
    audit = AuditEvent.objects.get(workspace=workspace)
    assert (audit.action, audit.target, audit.changes) == (
        "workspace.updated",
        "acme",
        {"emailLogRetentionDays": {"from": None, "to": 30}},
    )
    assert audit.actor.memberships.get().role == Role.OWNER


def test_null_keeps_rows_forever_and_an_unchanged_value_writes_no_audit(owner_api, workspace):
    owner_api.patch("/api/workspace", {"emailLogRetentionDays": 3650}, format="json")
    owner_api.patch("/api/workspace", {"emailLogRetentionDays": 3650}, format="json")
    response = owner_api.patch("/api/workspace", {"emailLogRetentionDays": None}, format="json")

    assert response.json()["emailLogRetentionDays"] is None
    assert [e.changes["emailLogRetentionDays"] for e in AuditEvent.objects.order_by("created_at")] == [
        {"from": None, "to": 3650}, {"from": 3650, "to": None}
    ]  # fmt: skip


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MEMBER])
def test_admins_and_members_cannot_change_it(role, api_as, workspace):
    response = api_as(role).patch("/api/workspace", {"emailLogRetentionDays": 30}, format="json")

    assert response.status_code == 403
    workspace.refresh_from_db()
    assert workspace.email_log_retention_days is None and not AuditEvent.objects.exists()


@pytest.mark.parametrize("value", [6, 3651, 0, -1, "30", 30.0, 30.5, True, [30], {"days": 30}])
def test_a_value_outside_the_range_or_of_the_wrong_type_is_a_400_that_changes_nothing(value, owner_api, workspace):
    response = owner_api.patch("/api/workspace", {"emailLogRetentionDays": value}, format="json")

    assert response.status_code == 400 and "emailLogRetentionDays" in response.json()
    workspace.refresh_from_db()
    assert workspace.email_log_retention_days is None and not AuditEvent.objects.exists()


def test_unknown_fields_are_refused(owner_api, workspace):
    response = owner_api.patch("/api/workspace", {"name": "Renamed", "emailLogRetentionDays": 30}, format="json")

    assert response.status_code == 400 and "name" in response.json()
    workspace.refresh_from_db()
    assert (workspace.name, workspace.email_log_retention_days) == ("Acme Legal", None)


def test_the_database_refuses_a_period_outside_the_range(workspace):
    for days in (6, 3651):
        with pytest.raises(IntegrityError), transaction.atomic():
            Workspace.objects.filter(pk=workspace.pk).update(email_log_retention_days=days)


# The Settings page -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN])
def test_members_and_admins_see_the_period_but_no_form_and_cannot_post(role, pages_as, workspace):
    workspace.email_log_retention_days = 45
    workspace.save()
    browser = pages_as(role)

    page = browser.get("/settings/workspace/").content.decode()

    assert "kept for <strong>45 days</strong>" in page and "Only the workspace owner can change this." in page
    assert 'name="email_log_retention_days"' not in page
    assert browser.post("/settings/workspace/", {"email_log_retention_days": "7"}).status_code == 403
    workspace.refresh_from_db()
    assert workspace.email_log_retention_days == 45


def test_the_owner_changes_it_on_the_page(pages_as, workspace):
    browser = pages_as(Role.OWNER)
    assert "kept forever" in browser.get("/settings/workspace/").content.decode()

    response = browser.post("/settings/workspace/", {"email_log_retention_days": "365"}, follow=True)

    assert response.redirect_chain == [("/settings/workspace/", 302)]
    assert "Saved: Email Log rows are now kept for 365 days." in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.email_log_retention_days == 365
    assert AuditEvent.objects.get().action == "workspace.updated"

    browser.post("/settings/workspace/", {"email_log_retention_days": ""})
    workspace.refresh_from_db()
    assert workspace.email_log_retention_days is None


@pytest.mark.parametrize("value", ["3", "4000", "thirty"])
def test_a_bad_value_on_the_page_is_shown_back_and_changes_nothing(value, pages_as, workspace):
    response = pages_as(Role.OWNER).post("/settings/workspace/", {"email_log_retention_days": value})

    assert response.status_code == 400 and "field-error" in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.email_log_retention_days is None
