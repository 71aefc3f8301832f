"""What the Email Log tells the workspace's subscribers (SPEC §15): `email.*` events recorded in the transaction
that changes the rows, through the workspace event outbox, one INSERT for any number of rows.

`data` is the email's row as the rows API shapes it (`{"id", "createdAt", "values"}`) plus its `tableId`.
"""

from tables.models import Column
from tables.services import rows_data
from workspaces.events import record_events
from workspaces.models import WorkspaceEventType

from .columns import EMAIL_LOG_COLUMNS
from .models import EmailLogEntry, EmailStatus

_COLUMNS = [Column(name=name, type=kind, field=field) for name, kind, field in EMAIL_LOG_COLUMNS]
_FIELDS = ["id", "created_at", "table_id", "table__workspace_id", *(field for _, _, field in EMAIL_LOG_COLUMNS)]
# The provider events subscribers hear of (the others, accepted, deferred, dropped, unsubscribed, only change rows).
PROVIDER_EVENTS = {
    "delivered": WorkspaceEventType.EMAIL_DELIVERED,
    "bounced": WorkspaceEventType.EMAIL_BOUNCED,
    "complained": WorkspaceEventType.EMAIL_COMPLAINED,
    "opened": WorkspaceEventType.EMAIL_OPENED,
    "clicked": WorkspaceEventType.EMAIL_CLICKED,
}
SETTLED = {EmailStatus.DELIVERED: WorkspaceEventType.EMAIL_SENT, EmailStatus.FAILED: WorkspaceEventType.EMAIL_FAILED}


def record_email_events(types_by_row: list[tuple[str, str]]) -> None:
    """Record each (row id, event type) with the row as it is now in this transaction: one read, one INSERT."""
    if not types_by_row:
        return
    rows = {row["id"]: row for row in EmailLogEntry.objects.filter(pk__in={pk for pk, _ in types_by_row}).values(*_FIELDS)}
    data = {row["id"]: {**shaped, "tableId": row["table_id"]} for row, shaped in zip(rows.values(), rows_data(_COLUMNS, list(rows.values())), strict=True)}
    record_events([(rows[pk]["table__workspace_id"], kind, data[pk]) for pk, kind in types_by_row if pk in rows])
