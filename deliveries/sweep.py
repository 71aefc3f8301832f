"""The sweep: what a dead worker or a lost task left behind. Deliveries whose claim's lease ended (the worker
died mid-attempt) are attempted again under the same id; due deliveries and events with no task to run them
(an enqueue lost outside the database, or an inline first run) are given one.
"""

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from workspaces.models import WorkspaceEvent

from .models import Delivery, DeliveryStatus

LIMIT = 5000  # deliveries per sweep


def overdue_deliveries() -> dict[str, list[str]]:
    """The pending deliveries to attempt again now, by integration: a claim whose lease ended, or due for longer
    than a lease without anyone attempting them."""
    now = timezone.now()
    grace = timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    left = Q(claimed_until__lt=now) | Q(claimed_until__isnull=True, next_attempt_at__lt=now - grace)
    found: dict[str, list[str]] = defaultdict(list)
    for integration_id, pk in Delivery.objects.filter(left, status=DeliveryStatus.PENDING).values_list("integration_id", "pk")[:LIMIT]:
        found[integration_id].append(pk)
    return found


def events_left_unfanned() -> bool:
    """Whether an event waits for its fan-out longer than a lease (its fan-out task was lost)."""
    since = timezone.now() - timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    return WorkspaceEvent.objects.filter(fanned_out_at__isnull=True, created_at__lt=since).exists()


def sweep(enqueue: Callable[[list[tuple[str, list[str]]]], None], batch_sizes: Callable[[str], int]) -> int:
    """Enqueue an attempt for every overdue delivery (grouped by what one call takes); returns how many.

    Each is made due now, its ended lease cleared, in the transaction that enqueues its attempt: the next sweeps
    leave it to that attempt (a queue running late gets one more attempt a lease, not one a sweep)."""
    tasks, count = [], 0
    with transaction.atomic():
        for integration_id, ids in overdue_deliveries().items():
            size = batch_sizes(integration_id)
            tasks += [(integration_id, ids[start : start + size]) for start in range(0, len(ids), size)]
            count += len(ids)
            Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now(), claimed_until=None)
        if tasks:
            enqueue(tasks)
    return count
