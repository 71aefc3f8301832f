"""Email Log rows and the outbox that makes every send durable before the provider is called."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.models import Integration
from opbox.ids import PublicIdField
from tables.models import Table


class EmailStatus(models.TextChoices):
    QUEUED = "queued"  # recorded, not yet accepted or refused by the provider
    DELIVERED = "delivered"
    FAILED = "failed"


class EmailSource(models.TextChoices):
    """Where an email originated: the eight labels of the seed."""

    WORKFLOW_AUTOMATION = "Workflow Automation"
    MATTER_EMAIL_STEP = "Matter Email Step"
    MATTER_FORM_STEP = "Matter Form Step"
    WORKFLOW_STEP = "Workflow Step"
    WORKFLOW_EMAIL = "Workflow Email"
    FORM_SEND = "Form Send"
    SUBMISSION_SHARE = "Submission Share"
    MATTER_STEP = "Matter Step"


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
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=EmailStatus.values), name="email_log_status_is_known"),
            models.CheckConstraint(condition=Q(source__in=EmailSource.values), name="email_log_source_is_known"),
            models.CheckConstraint(
                condition=~Q(status=EmailStatus.DELIVERED) | ~Q(message_id=""), name="delivered_email_has_message_id"
            ),
        ]

    def __str__(self):
        return f"{self.subject} -> {self.to} ({self.status})"


class OutboundEmail(models.Model):
    """The outbox: what is needed to (re)send an email, written with its log row before any provider call.

    Deleted once the row is final (delivered or failed); a row still `queued` with its outbox left after a
    crash is picked up by `resolve_inflight_emails`.
    """

    entry = models.OneToOneField(EmailLogEntry, on_delete=models.CASCADE, primary_key=True, related_name="outbox")
    payload = models.JSONField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # A sender claims the email until this time, so a worker and the in-flight sweep never send it twice.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    @property
    def idempotency_key(self) -> str:
        # Stable per email, so every retry (and a post-crash resend) is the same send to the provider.
        return f"opbox-email-{self.entry_id}"
