"""Email Log rows and the outbox that makes every send durable before the provider is called."""

import base64

from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from documents.attachments import DocumentAttachment, attachment_from_payload, is_document, payload_of
from integrations.models import Integration
from integrations.providers import Attachment, OutboundMessage
from opbox.ids import PublicIdField
from tables.models import Table
from workspaces.models import RequestSource


class EmailStatus(models.TextChoices):
    QUEUED = "queued"  # recorded, not yet accepted or refused by the provider
    DELIVERED = "delivered"
    FAILED = "failed"


class SendFailure(models.TextChoices):
    """Why an email's send ended `failed` ("" when the provider accepted it; a later bounce is in its events)."""

    SUPPRESSED = "suppressed"  # every To recipient is suppressed: nothing was sent
    ERASED = "erased"  # cancelled unsent by the erasure of its every To recipient
    UNAVAILABLE = "unavailable"  # its integration was deleted or disabled before it was sent
    CREDENTIALS = "credentials"  # the integration's key cannot be decrypted with OPBOX_ENCRYPTION_KEYS
    PROVIDER = "provider"  # the provider refused or failed it (or gave an answer we cannot use)
    INTERRUPTED = "interrupted"  # its sender died after the call: the provider may have it
    INTERNAL = "internal"  # an error of ours while sending
    DOCUMENT = "document"  # a document attachment could not be rendered: the provider was never called


EmailSource = RequestSource  # where an email originated (documents use the same labels)


# The longest Error a row keeps: a provider's answer, with the notes of events and suppressions joined to it.
MAX_ERROR_LENGTH = 2000


class EmailLogEntry(models.Model):
    """One outbound email (all its retries included): a row of its integration's Email Log table."""

    id = PublicIdField()
    # Tables are never deleted on their own (admin cannot); only a workspace deletion removes them, and its logs.
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="email_log_entries")
    integration = models.ForeignKey(Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)
    to = models.TextField()
    from_address = models.TextField()
    subject = models.TextField()
    status = models.CharField(max_length=10, choices=EmailStatus.choices, default=EmailStatus.QUEUED)
    provider = models.CharField(max_length=32)
    message_id = models.CharField(max_length=255, blank=True, default="")
    cc = models.TextField(blank=True, default="")
    bcc = models.TextField(blank=True, default="")
    template_id = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=32, choices=EmailSource.choices)
    error = models.TextField(blank=True, default="")
    attachment_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)  # provider calls made (the outbox's count, kept when it goes)
    failure = models.CharField(max_length=16, choices=SendFailure.choices, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "email log entry"
        verbose_name_plural = "email log entries"
        indexes = [
            # Newest-first keyset pages, plain and filtered; search indexes are PostgreSQL-only (migration 0002).
            models.Index(fields=["table", "-sent_at", "-id"], name="email_log_newest_first"),
            models.Index(fields=["table", "status", "-sent_at", "-id"], name="email_log_by_status"),
            models.Index(fields=["table", "source", "-sent_at", "-id"], name="email_log_by_source"),
            # The in-flight sweep looks only at queued rows.
            models.Index(fields=["sent_at"], condition=Q(status="queued"), name="email_log_in_flight"),
            # Provider events name an email by its provider's message id (Resend always, SendGrid as a fallback).
            models.Index(fields=["integration", "message_id"], condition=~Q(message_id=""), name="email_log_by_message_id"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EmailStatus.values), name="email_log_status_is_known"),
            models.CheckConstraint(condition=Q(source__in=EmailSource.values), name="email_log_source_is_known"),
            models.CheckConstraint(condition=Q(failure__in=["", *SendFailure.values]), name="email_log_failure_is_known"),
            models.CheckConstraint(
                condition=~Q(status=EmailStatus.DELIVERED) | ~Q(message_id=""), name="delivered_email_has_message_id"
            ),
        ]

    def __str__(self):
        return f"{self.subject} -> {self.to} ({self.status})"

    @property
    def attempts_so_far(self) -> int:
        """The provider calls made, as the API and the email's page show them: a queued email's count lives on
        its outbox until the row is final."""
        outbox = getattr(self, "outbox", None) if self.status == EmailStatus.QUEUED else None
        return outbox.attempts if outbox is not None else self.attempts


def _attachment(item: dict) -> Attachment:
    if not is_document(item):
        return Attachment(item["filename"], item["content_type"], base64.b64decode(item["content_base64"]))
    # A rendered document: its stored bytes (the worker renders it before any provider call).
    return attachment_from_payload(item) if item.get("documentId") else DocumentAttachment.of(item["filename"], item["document"])


class OutboundEmail(models.Model):
    """The outbox: what is needed to (re)send an email, written with its log row before any provider call.

    Deleted once the row is final (delivered or failed); a row still `queued` with its outbox left after a
    crash is picked up by `resolve_inflight_emails`.
    """

    entry = models.OneToOneField(EmailLogEntry, on_delete=models.CASCADE, primary_key=True, related_name="outbox")
    payload = models.JSONField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # A sender claims the email until this time, so a worker and the in-flight sweep never send it twice;
    # a retry waiting for its turn holds it until then too.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The provider call that carries several emails at once (provider A's batch endpoint): fixed when the
    # call is first made, so every retry and a resend after a crash is that same batch under the same key.
    batch_id = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["batch_id"], condition=~Q(batch_id=""), name="outbox_batch_members")]

    def __str__(self):
        return f"outbox of {self.entry_id} ({self.attempts} attempts)"

    @staticmethod
    def payload_for(message: OutboundMessage) -> dict:
        """The message as JSON for `payload` (attachments in base64)."""
        fields = ("to", "cc", "bcc", "subject", "html", "text", "template_id", "template_data", "from_email", "from_name")
        payload = {name: getattr(message, name) for name in fields}
        payload["attachments"] = [
            payload_of(a) if isinstance(a, DocumentAttachment)  # rendered in the worker, then its documentId joins it
            else {"filename": a.filename, "content_type": a.content_type, "content_base64": a.content_base64}
            for a in message.attachments
        ]
        return payload

    @property
    def message(self) -> OutboundMessage:
        """The message `payload_for` stored (keys it does not know, such as an old `source`, are ignored),
        with this email's row id as its `reference`, so the provider's events can name the row.
        """
        payload = self.payload
        return OutboundMessage(
            to=payload["to"],
            subject=payload["subject"],
            cc=payload.get("cc", []),
            bcc=payload.get("bcc", []),
            html=payload.get("html", ""),
            text=payload.get("text", ""),
            template_id=payload.get("template_id", ""),
            template_data=payload.get("template_data") or None,
            from_email=payload.get("from_email", ""),
            from_name=payload.get("from_name", ""),
            reference=self.entry_id,
            attachments=[_attachment(a) for a in payload.get("attachments", [])],
        )

    @property
    def idempotency_key(self) -> str:
        # Stable per email (per batch for a batched one), so every retry and a post-crash resend is the
        # same send to the provider.
        return f"opbox-batch-{self.batch_id}" if self.batch_id else f"opbox-email-{self.entry_id}"


class EventType(models.TextChoices):
    """What a provider reported about an email after accepting it, normalised across providers (SPEC §9)."""

    ACCEPTED = "accepted"
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    DROPPED = "dropped"
    COMPLAINED = "complained"
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"


class EmailEvent(models.Model):
    """One verified provider event about one logged email (a webhook delivery may carry many)."""

    entry = models.ForeignKey(EmailLogEntry, on_delete=models.CASCADE, related_name="events")
    # Denormalised from the entry: the dedup key is per integration, and integrations outlive nothing here.
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+")
    provider_event_id = models.CharField(max_length=255)  # svix-id (provider A), sg_event_id (provider B)
    type = models.CharField(max_length=16, choices=EventType.choices)
    recipient = models.TextField(blank=True, default="")  # "" when the event names the email, not one recipient
    occurred_at = models.DateTimeField()
    detail = models.CharField(max_length=500, blank=True, default="")  # the provider's reason, shortened
    received_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["entry", "occurred_at"], name="email_event_timeline")]
        constraints = [
            # Providers retry and repeat events: the same event id is stored once, whatever the race.
            models.UniqueConstraint(fields=["integration", "provider_event_id"], name="one_event_per_provider_event_id"),
            models.CheckConstraint(condition=Q(type__in=EventType.values), name="email_event_type_is_known"),
        ]

    def __str__(self):
        return f"{self.type} {self.recipient} ({self.occurred_at:%Y-%m-%d %H:%M})"


class SuppressionReason(models.TextChoices):
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    MANUAL = "manual"


class Suppression(models.Model):
    """An address the workspace no longer sends to. Matched by `address_hash`, a keyed hash of the
    lower-cased address, so an erased address (SPEC §12: `address` emptied) still receives nothing.
    """

    id = PublicIdField()
    workspace = models.ForeignKey("workspaces.Workspace", on_delete=models.CASCADE, related_name="suppressions")
    address = models.CharField(max_length=320, blank=True, default="")  # lower-cased; "" once erased
    address_hash = models.CharField(max_length=64)
    reason = models.CharField(max_length=16, choices=SuppressionReason.choices)
    entry = models.ForeignKey(EmailLogEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "address_hash"], name="one_suppression_per_address"),
            models.CheckConstraint(condition=Q(reason__in=SuppressionReason.values), name="suppression_reason_is_known"),
            models.CheckConstraint(condition=Q(address=Lower("address")), name="suppression_address_is_lower_case"),
        ]

    def __str__(self):
        return f"{self.address or '[erased]'} ({self.reason})"
