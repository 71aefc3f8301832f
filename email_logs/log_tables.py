"""Email Log tables: one per enabled email integration, created idempotently by every path that needs one."""

from integrations.models import Integration
from tables.models import SystemType, Table
from tables.services import ensure_log_table, ensure_log_tables

from .columns import EMAIL_LOG_COLUMNS, EMAIL_LOG_TABLE_NAME


def ensure_email_log_table(integration: Integration) -> Table:
    """The integration's Email Log table, created if missing; safe when many callers race."""
    return ensure_log_table(integration, SystemType.EMAIL_LOG, EMAIL_LOG_TABLE_NAME, EMAIL_LOG_COLUMNS)


def ensure_email_log_tables(workspace) -> list[Table]:
    """An Email Log table for every enabled email integration of the workspace (idempotent)."""
    integrations = Integration.objects.for_workspace(workspace).email_providers().filter(enabled=True).without_secrets()
    return ensure_log_tables(integrations, SystemType.EMAIL_LOG, EMAIL_LOG_TABLE_NAME, EMAIL_LOG_COLUMNS)
