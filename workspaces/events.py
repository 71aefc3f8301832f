"""The workspace event outbox (SPEC §15): one service every app that records events calls."""

from .models import WorkspaceEvent, WorkspaceEventType


def record_event(workspace_id: str, type: str, data: dict) -> WorkspaceEvent:
    """Record an event in the current transaction: call it inside the transaction of the change that causes
    it, so the two commit or roll back together. `data` must hold no credential.
    """
    if type not in WorkspaceEventType.values:
        raise ValueError(f"{type!r} is not a workspace event type: {', '.join(WorkspaceEventType.values)}.")
    return WorkspaceEvent.objects.create(workspace_id=workspace_id, type=type, data=data)
