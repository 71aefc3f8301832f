"""Document Log tables: one per DOCUMENT_ENGINE integration, created idempotently by every path that needs one
(the init endpoint, the Tables page, a signal when the integration is saved, a render)."""

from integrations.models import Integration
from integrations.types import IntegrationType
from tables.models import Column, SystemType, Table
from tables.services import ensure_log_table, ensure_log_tables

from .columns import DOCUMENT_LOG_COLUMNS, DOCUMENT_LOG_TABLE_NAME


def document_log_columns() -> list[Column]:
    """The columns every Document Log has (as `ensure_document_log_table` writes them), unsaved: what a row of a
    document just rendered needs, without reading its table's."""
    return [Column(name=name, type=kind, position=position, field=attribute) for position, (name, kind, attribute) in enumerate(DOCUMENT_LOG_COLUMNS)]


def ensure_document_log_table(integration: Integration) -> Table:
    """The integration's Document Log table, created if missing; safe when many callers race."""
    return ensure_log_table(integration, SystemType.DOCUMENT_LOG, DOCUMENT_LOG_TABLE_NAME, DOCUMENT_LOG_COLUMNS)


def ensure_document_log_tables(workspace) -> list[Table]:
    """A Document Log table for every enabled DOCUMENT_ENGINE integration of the workspace (idempotent)."""
    integrations = Integration.objects.for_workspace(workspace).filter(type=IntegrationType.DOCUMENT_ENGINE, enabled=True).without_secrets()
    return ensure_log_tables(integrations, SystemType.DOCUMENT_LOG, DOCUMENT_LOG_TABLE_NAME, DOCUMENT_LOG_COLUMNS)
