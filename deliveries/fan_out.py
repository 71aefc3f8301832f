"""The fan-out (SPEC §15): each recorded workspace event becomes one delivery per enabled integration of its
workspace that subscribes to its type. It runs in the workers, in bulk: a batch of events costs the same few
statements whatever their number (one read of the events, one of the subscribers, one INSERT of the
deliveries, one UPDATE of the events, one INSERT of the delivery tasks).
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from opbox.ids import new_public_id
from workspaces.models import WorkspaceEvent

from .models import Delivery
from .subscriptions import deliveries_per_task, subscribers_by_workspace

BATCH = 500  # events per transaction


@dataclass(frozen=True)
class FanOut:
    events: int
    deliveries: int


def _email_id(event: WorkspaceEvent) -> str:
    """The email the event is about: an email.* event's row, or the email a document.* event's document was
    attached to ("" for others)."""
    data = event.data if isinstance(event.data, dict) else {}
    if event.type.startswith("email."):
        return str(data.get("id") or "")[:25]
    values = data.get("values") if event.type.startswith("document.") else None
    return str(values.get("Email ID") or "")[:25] if isinstance(values, dict) else ""


def fan_out_batch(enqueue: Callable[[list[tuple[str, list[str]]]], None], *, limit: int = BATCH) -> FanOut:
    """Fan out up to `limit` events not fanned out yet, oldest first; `enqueue` gets the delivery tasks'
    arguments, (integration id, delivery ids), one per group of what one call takes, inside the transaction
    that writes the deliveries (it enqueues them with it: opbox.task_queue.enqueue_each_with_transaction).
    """
    with transaction.atomic():
        queue = WorkspaceEvent.objects.filter(fanned_out_at__isnull=True).order_by("created_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            queue = queue.select_for_update(skip_locked=True)  # concurrent fan-outs take different events
        events = list(queue.only("id", "workspace_id", "type", "data", "created_at")[:limit])
        if not events:
            return FanOut(0, 0)
        subscribers = subscribers_by_workspace({event.workspace_id for event in events})
        now = timezone.now()
        rows, groups = [], defaultdict(list)
        for event in events:
            for integration, types in subscribers.get(event.workspace_id, ()):
                if event.type not in types:
                    continue
                delivery = Delivery(
                    id=new_public_id(), workspace_id=event.workspace_id, integration_id=integration.pk, event_id=event.pk,
                    event_type=event.type, email_id=_email_id(event), next_attempt_at=now, created_at=now, updated_at=now,
                )  # fmt: skip
                rows.append(delivery)
                groups[integration].append(delivery.pk)
        Delivery.objects.bulk_create(rows)
        WorkspaceEvent.objects.filter(pk__in=[event.pk for event in events]).update(fanned_out_at=now)
        tasks = []
        for integration, ids in groups.items():
            size = deliveries_per_task(integration.type)
            tasks += [(integration.pk, ids[start : start + size]) for start in range(0, len(ids), size)]
        enqueue(tasks)
    return FanOut(len(events), len(rows))
