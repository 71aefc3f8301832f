"""Who receives which workspace events (SPEC §15): the integration types whose connector takes events, and each
integration's event types (its config `events`, else the type's default). Read from the connectors'
declarations; nothing here names a service."""

from integrations.models import Integration
from integrations.providers import connector_for
from integrations.providers.events import ALL_EVENTS
from integrations.types import TYPES
from workspaces.models import WorkspaceEventType


def receiving_types() -> list[str]:
    """The integration types that receive workspace events."""
    return [name for name in TYPES if connector_for(name).client_class.default_events]


def receives_events(integration: Integration) -> bool:
    return bool(connector_for(integration.type).client_class.default_events)


def subscribed_types(integration: Integration) -> frozenset[str]:
    """The event types the integration receives: its config `events` (comma-separated), else its type's default."""
    configured = [part.strip() for part in str(integration.config.get("events") or "").split(",") if part.strip()]
    chosen = tuple(configured) or connector_for(integration.type).client_class.default_events
    if chosen == ALL_EVENTS or "*" in chosen:
        return frozenset(WorkspaceEventType.values)
    return frozenset(chosen) & frozenset(WorkspaceEventType.values)


def subscribers_by_workspace(workspace_ids) -> dict[str, list[tuple[Integration, frozenset[str]]]]:
    """The enabled receiving integrations of each workspace with what they subscribe to: one query for all."""
    found: dict[str, list[tuple[Integration, frozenset[str]]]] = {}
    integrations = Integration.objects.filter(workspace_id__in=set(workspace_ids), enabled=True, type__in=receiving_types())
    for integration in integrations.without_secrets().order_by("pk"):
        found.setdefault(integration.workspace_id, []).append((integration, subscribed_types(integration)))
    return found


UNPACED_TASK_SIZE = 100  # deliveries one task attempts for an unpaced integration (its calls one after another)


def deliveries_per_task(integration_type: str) -> int:
    """How many deliveries one task attempts: what one call takes for a paced integration (each call waits for
    its turn as its own task), a run of calls for an unpaced one (a task's cost shared by many deliveries)."""
    connector = connector_for(integration_type)
    size = connector.client_class.delivery_batch
    return size if connector.requests_per_second else max(size, UNPACED_TASK_SIZE)
