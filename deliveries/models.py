"""Deliveries (SPEC §15): one row per (workspace event, subscribing integration), its status and attempts.

The event's body is stored once, on the event (`workspaces.WorkspaceEvent`); a delivery points at it, so a
thousand subscribers never copy a payload. The delivery's id is the `webhook-id` its receiver sees on every
attempt, redeliveries included.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.models import Integration
from opbox.ids import PublicIdField
from workspaces.models import Workspace, WorkspaceEvent, WorkspaceEventType


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


def unclaimed(now) -> Q:
    """Deliveries no attempt holds now: never claimed, released, or left by a worker whose lease ran out."""
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


class Delivery(models.Model):
    id = PublicIdField()  # the webhook-id: the same on every retry and redelivery
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(WorkspaceEvent, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40, choices=WorkspaceEventType.choices)  # the event's, for filters
    email_id = models.CharField(max_length=25, blank=True, default="")  # the email an email.* event is about
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)  # calls made, in all
    # Attempts since it was (re)delivered: the retry schedule's position.
    round_attempts = models.PositiveSmallIntegerField(default=0)
    response = models.CharField(max_length=64, blank=True, default="")  # the HTTP status, or the service's error code
    error = models.TextField(blank=True, default="")  # why the last attempt failed (never a credential)
    next_attempt_at = models.DateTimeField(null=True, blank=True)  # when a pending delivery is due
    # The attempt holding it: a token and until when. Past `claimed_until`, its worker is taken to be dead.
    claim = models.CharField(max_length=32, blank=True, default="")
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["integration", "-created_at", "-id"], name="delivery_log_newest_first"),
            models.Index(fields=["integration", "status", "-created_at", "-id"], name="delivery_log_by_status"),
            models.Index(fields=["integration", "event_type", "-created_at", "-id"], name="delivery_log_by_event"),
            # The sweep's queue: pending deliveries only.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="delivery_pending"),
        ]
        constraints = [
            # One delivery per (event, integration): a fan-out run twice creates nothing new.
            models.UniqueConstraint(fields=["event", "integration"], name="one_delivery_per_event_and_integration"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="delivery_status_is_known"),
            models.CheckConstraint(condition=Q(event_type__in=WorkspaceEventType.values), name="delivery_event_type_is_known"),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.DELIVERED) | Q(delivered_at__isnull=False), name="delivered_delivery_has_its_time"
            ),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.PENDING) | Q(next_attempt_at__isnull=False), name="pending_delivery_is_due_sometime"
            ),
            models.CheckConstraint(condition=Q(round_attempts__lte=models.F("attempts")), name="delivery_round_within_attempts"),
        ]

    def __str__(self):
        return f"{self.event_type} to {self.integration_id} ({self.status})"

    @property
    def webhook_id(self) -> str:
        return self.pk
