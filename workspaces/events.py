"""The workspace event outbox (SPEC §15): one service every app that records events calls.

Events are rows written in the transaction of the change that causes them. What happens to them afterwards
belongs to an app above this one (deliveries): it registers a listener in its `ready()` (`on_recorded`), which
is called once after each transaction that recorded events commits, never for one that rolled back.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import connection, transaction
from django.utils import timezone

from opbox.bulk import insert_ignoring_conflicts
from opbox.ids import new_public_id

from .models import WorkspaceEvent, WorkspaceEventType

_listeners: list[Callable[[], None]] = []


def on_recorded(listener: Callable[[], None]) -> None:
    """Call `listener()` after each commit of a transaction that recorded events (registered in `ready()`)."""
    if listener not in _listeners:
        _listeners.append(listener)


class _Notify:
    """The after-commit call of one transaction's events."""

    ran = False

    def __call__(self) -> None:
        self.ran = True
        for listener in _listeners:
            listener()


def _notify_after_commit() -> None:
    # Once per transaction, however many events it records: a rollback discards the pending call with them.
    if not any(isinstance(entry[1], _Notify) and not entry[1].ran for entry in connection.run_on_commit):
        transaction.on_commit(_Notify())


def _check_type(type: str) -> None:
    if type not in WorkspaceEventType.values:
        raise ValueError(f"{type!r} is not a workspace event type: {', '.join(WorkspaceEventType.values)}.")


def record_event(workspace_id: str, type: str, data: dict) -> WorkspaceEvent:
    """Record an event in the current transaction: call it inside the transaction of the change that causes
    it, so the two commit or roll back together. `data` must hold no credential.
    """
    _check_type(type)
    event = WorkspaceEvent.objects.create(workspace_id=workspace_id, type=type, data=data)
    _notify_after_commit()
    return event


def record_events(events: list[tuple[str, str, dict]]) -> list[str]:
    """Record many events, each (workspace id, type, data), in one INSERT in the current transaction (whatever
    their number: opbox.bulk); returns their ids."""
    for _, type, _ in events:
        _check_type(type)
    if not events:
        return []
    now = timezone.now()
    # Microseconds apart, in the given order: the order a fan-out reads them in.
    rows = [(new_public_id(), ws, type, data, now + timedelta(microseconds=n)) for n, (ws, type, data) in enumerate(events)]
    ids = insert_ignoring_conflicts(WorkspaceEvent, ["id", "workspace", "type", "data", "created_at"], rows, conflict=["id"], returning="id")
    _notify_after_commit()
    return ids
