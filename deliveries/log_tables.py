"""Delivery Log tables: one per integration that receives workspace events, created idempotently."""

from django.db import IntegrityError, transaction

from integrations.models import Integration
from tables.models import Column, SystemType, Table

from .columns import DELIVERY_LOG_COLUMNS, DELIVERY_LOG_TABLE_NAME
from .subscriptions import receiving_types


def ensure_delivery_log_table(integration: Integration) -> Table:
    """The integration's Delivery Log table, created if missing; safe when many callers race."""
    existing = Table.objects.filter(integration=integration, system_type=SystemType.DELIVERY_LOG).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            table = Table.objects.create(
                workspace_id=integration.workspace_id, name=DELIVERY_LOG_TABLE_NAME,
                system_type=SystemType.DELIVERY_LOG, integration=integration,
            )  # fmt: skip
            Column.objects.bulk_create(
                Column(table=table, name=name, type=kind, position=position, field=attribute)
                for position, (name, kind, attribute) in enumerate(DELIVERY_LOG_COLUMNS)
            )
            return table
    except IntegrityError:  # created by a concurrent caller: the unique constraint said so
        return Table.objects.get(integration=integration, system_type=SystemType.DELIVERY_LOG)


def ensure_delivery_log_tables(workspace) -> list[Table]:
    """A Delivery Log table for every receiving integration of the workspace, enabled or not (its log stays)."""
    integrations = list(Integration.objects.for_workspace(workspace).filter(type__in=receiving_types()).without_secrets())
    have = set(Table.objects.filter(integration__in=integrations, system_type=SystemType.DELIVERY_LOG).values_list("integration_id", flat=True))
    return [ensure_delivery_log_table(integration) for integration in integrations if integration.pk not in have]


def delivery_log_table_of(integration_id: str) -> Table | None:
    return Table.objects.filter(integration_id=integration_id, system_type=SystemType.DELIVERY_LOG).first()
