"""Document Log tables: one per DOCUMENT_ENGINE integration, created idempotently by every path that needs one
(the init endpoint, the Tables page, a signal when the integration is saved, a render)."""

from django.db import IntegrityError, transaction

from integrations.models import Integration
from integrations.types import IntegrationType
from tables.models import Column, SystemType, Table

from .columns import DOCUMENT_LOG_COLUMNS, DOCUMENT_LOG_TABLE_NAME


def document_log_columns() -> list[Column]:
    """The columns every Document Log has (as `ensure_document_log_table` writes them), unsaved: what a row of a
    document just rendered needs, without reading its table's."""
    return [Column(name=name, type=kind, position=position, field=attribute) for position, (name, kind, attribute) in enumerate(DOCUMENT_LOG_COLUMNS)]


def ensure_document_log_table(integration: Integration) -> Table:
    """The integration's Document Log table, created if missing; safe when many callers race (the unique
    constraint on (integration, system type) decides, not a check-then-insert)."""
    existing = Table.objects.filter(integration=integration, system_type=SystemType.DOCUMENT_LOG).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            table = Table.objects.create(
                workspace_id=integration.workspace_id,
                name=DOCUMENT_LOG_TABLE_NAME,
                system_type=SystemType.DOCUMENT_LOG,
                integration=integration,
            )
            Column.objects.bulk_create(
                Column(table=table, name=name, type=kind, position=position, field=attribute)
                for position, (name, kind, attribute) in enumerate(DOCUMENT_LOG_COLUMNS)
            )
            return table
    except IntegrityError:
        return Table.objects.get(integration=integration, system_type=SystemType.DOCUMENT_LOG)


def ensure_document_log_tables(workspace) -> list[Table]:
    """A Document Log table for every enabled DOCUMENT_ENGINE integration of the workspace (idempotent)."""
    integrations = list(
        Integration.objects.for_workspace(workspace)
        .filter(type=IntegrationType.DOCUMENT_ENGINE, enabled=True)
        .without_secrets()
    )
    tables = {
        table.integration_id: table
        for table in Table.objects.filter(integration__in=integrations, system_type=SystemType.DOCUMENT_LOG)
    }
    for integration in integrations:
        if integration.pk not in tables:
            tables[integration.pk] = ensure_document_log_table(integration)
    return sorted(tables.values(), key=lambda table: (table.created_at, table.pk))
