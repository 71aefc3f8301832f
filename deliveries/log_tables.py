"""Delivery Log tables: one per integration that receives workspace events, created idempotently."""

from integrations.models import Integration
from tables.models import SystemType, Table
from tables.services import ensure_log_table

from .columns import DELIVERY_LOG_COLUMNS, DELIVERY_LOG_TABLE_NAME
from .subscriptions import receiving_types


def ensure_delivery_log_table(integration: Integration) -> Table:
    """The integration's Delivery Log table, created if missing; safe when many callers race."""
    return ensure_log_table(integration, SystemType.DELIVERY_LOG, DELIVERY_LOG_TABLE_NAME, DELIVERY_LOG_COLUMNS)


def ensure_delivery_log_tables(workspace) -> list[Table]:
    """A Delivery Log table for every receiving integration of the workspace, enabled or not (its log stays)."""
    integrations = list(Integration.objects.for_workspace(workspace).filter(type__in=receiving_types()).without_secrets())
    have = set(Table.objects.filter(integration__in=integrations, system_type=SystemType.DELIVERY_LOG).values_list("integration_id", flat=True))
    return [ensure_delivery_log_table(integration) for integration in integrations if integration.pk not in have]


def delivery_log_table_of(integration_id: str) -> Table | None:
    return Table.objects.filter(integration_id=integration_id, system_type=SystemType.DELIVERY_LOG).first()
