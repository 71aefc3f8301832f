"""Deliveries as the API, the pages and the settings card use them: reading one, redelivering one, and an
integration's delivery summary."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from integrations.cards import CardFact
from opbox.errors import ApplicationError
from opbox.task_queue import enqueue_with_transaction

from .log_tables import delivery_log_table_of
from .models import Delivery, DeliveryStatus, unclaimed
from .subscriptions import receives_events
from .tasks import deliver_events


class IntegrationDisabled(ApplicationError):
    http_status = 409


class DeliveryInProgress(ApplicationError):
    http_status = 409


def delivery_in(workspace, delivery_id: str, *, table=None) -> Delivery:
    """A delivery of `workspace` (of `table`'s integration when given); another workspace's raises DoesNotExist."""
    deliveries = Delivery.objects.select_related("integration", "event").filter(workspace=workspace)
    if table is not None:
        deliveries = deliveries.filter(integration_id=table.integration_id)
    return deliveries.get(pk=delivery_id)


def redeliver(delivery: Delivery) -> Delivery:
    """Deliver again under the same id (the same `webhook-id`), from the start of the retry schedule."""
    if not delivery.integration.enabled:
        raise IntegrationDisabled(f"The integration {delivery.integration.name!r} is disabled: enable it to redeliver.")
    now = timezone.now()
    arguments = [delivery.integration_id, [delivery.pk]]
    with transaction.atomic():
        # Not while an attempt holds it: that attempt records its outcome over this reset (and its count under it).
        reset = Delivery.objects.filter(unclaimed(now), pk=delivery.pk).update(
            status=DeliveryStatus.PENDING, round_attempts=0, next_attempt_at=now, delivered_at=None, error="", updated_at=now
        )
        if not reset:
            raise DeliveryInProgress("An attempt at this delivery is in progress: redeliver once it has ended.")
        enqueue_with_transaction(deliver_events, *arguments)
    delivery.refresh_from_db()
    return delivery


@dataclass(frozen=True)
class DeliverySummary:
    last_delivery_at: datetime | None
    last_status: str
    failing: int  # failed, or pending after a failed attempt


def summaries_for(integration_ids) -> dict[str, DeliverySummary]:
    """Each integration's last delivery and how many of its deliveries are failing, in one query."""
    failing = Q(status=DeliveryStatus.FAILED) | Q(status=DeliveryStatus.PENDING, attempts__gt=0)
    newest = Delivery.objects.filter(integration_id=OuterRef("integration_id")).order_by("-created_at", "-id")
    rows = (
        Delivery.objects.filter(integration_id__in=list(integration_ids)).values("integration_id")
        .annotate(last=Max("created_at"), failing=Count("pk", filter=failing), last_status=Subquery(newest.values("status")[:1]))
    )  # fmt: skip
    return {row["integration_id"]: DeliverySummary(row["last"], row["last_status"] or "", row["failing"]) for row in rows}


def delivery_card_facts(integrations) -> dict:
    """The settings cards' facts of receiving integrations: the last delivery (linked to the Delivery Log) and
    how many deliveries are failing."""
    receiving = [integration for integration in integrations if receives_events(integration)]
    summaries = summaries_for(integration.pk for integration in receiving)
    facts = {}
    for integration in receiving:
        summary = summaries.get(integration.pk)
        table = delivery_log_table_of(integration.pk)
        url = reverse("tables:table", args=[table.pk]) if table else ""
        if summary is None:
            facts[integration.pk] = [CardFact("Deliveries", "none yet", url)]
            continue
        last = f"last {date_format(summary.last_delivery_at, 'Y-m-d H:i')} UTC ({summary.last_status})"
        failing = f"{summary.failing} failing" if summary.failing else "none failing"
        facts[integration.pk] = [CardFact("Deliveries", f"{last}; {failing}", url, warning=bool(summary.failing))]
    return facts
