"""What the Document Log tells the workspace's subscribers (SPEC §15): `document.generated` or `document.failed`,
recorded through the workspace event outbox in the transaction that writes the document's row.

`data` is the document's row as the rows API shapes it (`{"id", "createdAt", "values"}`: Generated At, Template
ID, Filename, Format, Status, Size, Source, Error, Email ID) plus its `tableId` (its Document Log).
"""

from tables.services import rows_data
from workspaces.events import record_event
from workspaces.models import WorkspaceEventType

from .columns import DOCUMENT_LOG_COLUMNS
from .log_tables import document_log_columns
from .models import Document, DocumentStatus

_COLUMNS = document_log_columns()


def document_event_data(document: Document) -> dict:
    """The document's row (the rows API's shape) with its `tableId`."""
    row = {"id": document.pk, "created_at": document.created_at, **{field: getattr(document, field) for _, _, field in DOCUMENT_LOG_COLUMNS}}
    (shaped,) = rows_data(_COLUMNS, [row])
    return {**shaped, "tableId": document.table_id}


def record_document_event(document: Document) -> None:
    """Record the document's event in the current transaction: call it in the one that writes its row."""
    kind = WorkspaceEventType.DOCUMENT_GENERATED if document.status == DocumentStatus.GENERATED else WorkspaceEventType.DOCUMENT_FAILED
    record_event(document.workspace_id, kind, document_event_data(document))
