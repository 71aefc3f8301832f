"""Email Log tables: one per enabled email integration, created idempotently by every path that needs one."""

from django.db import IntegrityError, transaction

from integrations.models import Integration
from tables.models import Column, SystemType, Table

from .columns import EMAIL_LOG_COLUMNS, EMAIL_LOG_TABLE_NAME


def _create_email_log_table(integration: Integration) -> Table:
    table = Table.objects.create(
        workspace_id=integration.workspace_id,
        name=EMAIL_LOG_TABLE_NAME,
        system_type=SystemType.EMAIL_LOG,
        integration=integration,
    )
    Column.objects.bulk_create(
        Column(table=table, name=name, type=kind, position=position, field=attribute)
        for position, (name, kind, attribute) in enumerate(EMAIL_LOG_COLUMNS)
    )
    return table


def ensure_email_log_table(integration: Integration) -> Table:
    """The integration's Email Log table, created if missing; safe when many callers race."""
    existing = Table.objects.filter(integration=integration, system_type=SystemType.EMAIL_LOG).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _create_email_log_table(integration)
    except IntegrityError:
        # Another request created it between our read and our insert: the unique constraint said so.
        return Table.objects.get(integration=integration, system_type=SystemType.EMAIL_LOG)


def ensure_email_log_tables(workspace) -> list[Table]:
    """An Email Log table for every enabled email integration of the workspace (idempotent)."""
    integrations = list(
        Integration.objects.for_workspace(workspace).email_providers().filter(enabled=True).without_secrets()
    )
    tables = {
        table.integration_id: table
        for table in Table.objects.filter(integration__in=integrations, system_type=SystemType.EMAIL_LOG)
    }
    for integration in integrations:
        if integration.pk not in tables:
            tables[integration.pk] = ensure_email_log_table(integration)
    return sorted(tables.values(), key=lambda table: (table.created_at, table.pk))
