"""The workspace event outbox (SPEC §15): only the 11 event types, enforced by the database, and recorded in the
transaction of the change that causes it: a rolled-back change leaves no event."""

import pytest
from django.db import IntegrityError, transaction

from workspaces.events import record_event
from workspaces.models import WorkspaceEvent, WorkspaceEventType

pytestmark = pytest.mark.django_db


def test_the_eleven_event_types_of_the_spec():
    assert len(WorkspaceEventType.values) == 11
    assert {"email.sent", "integration.check_failed", "integration.reconnect_needed", "document.generated"} <= set(WorkspaceEventType.values)


def test_an_unknown_type_is_refused_by_the_service_and_by_the_database(workspace):
    with pytest.raises(ValueError, match="not a workspace event type"):
        record_event(workspace.pk, "email.exploded", {})
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkspaceEvent.objects.create(workspace=workspace, type="email.exploded", data={})


def test_an_event_of_a_rolled_back_change_is_never_recorded(workspace):
    with pytest.raises(RuntimeError), transaction.atomic():
        record_event(workspace.pk, WorkspaceEventType.INTEGRATION_CHECK_FAILED, {"id": "c1", "name": "x", "type": "SLACK", "lastCheckDetail": ""})
        raise RuntimeError("the change failed")

    record_event(workspace.pk, WorkspaceEventType.EMAIL_SENT, {"id": "e1"})

    assert list(WorkspaceEvent.objects.values_list("type", flat=True)) == ["email.sent"]
