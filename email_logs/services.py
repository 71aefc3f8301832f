"""Outbound email and its Email Log: the one `send_email` every sender calls, and the log tables.

Every email is written to its log (status `queued`) together with an outbox record before the provider
is ever called; the send happens after the caller's transaction commits. So a rolled-back caller sends
nothing, and a crash mid-send leaves a `queued` row that `resolve_inflight_emails` settles.
"""

import base64
import binascii
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrations.crypto import EncryptionError
from integrations.models import Integration
from integrations.providers import PROVIDER_SLUG, Attachment, OutboundMessage, ProviderError, client_for
from integrations.services import EmailProviderNotConfigured, site_email_provider
from tables.models import Column, SystemType, Table

from .columns import EMAIL_LOG_COLUMNS, EMAIL_LOG_TABLE_NAME
from .models import EmailLogEntry, EmailSource, EmailStatus, OutboundEmail

logger = logging.getLogger(__name__)

MAX_RECIPIENTS = 50  # per field: a larger list is a bulk send, which this endpoint is not for


# Email Log tables --------------------------------------------------------------------------------


def _create_email_log_table(integration: Integration) -> Table:
    table = Table.objects.create(
        workspace_id=integration.workspace_id,
        name=EMAIL_LOG_TABLE_NAME,
        system_type=SystemType.EMAIL_LOG,
        integration=integration,
    )
    Column.objects.bulk_create(
        Column(table=table, name=name, type=kind, position=position, field=attribute)
        for position, (name, kind, attribute) in enumerate(EMAIL_LOG_COLUMNS)
    )
    return table


def ensure_email_log_table(integration: Integration) -> Table:
    """The integration's Email Log table, created if missing; safe when many callers race."""
    existing = Table.objects.filter(integration=integration, system_type=SystemType.EMAIL_LOG).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return _create_email_log_table(integration)
    except IntegrityError:
        # Another request created it between our read and our insert: the unique constraint said so.
        return Table.objects.get(integration=integration, system_type=SystemType.EMAIL_LOG)


def ensure_email_log_tables(workspace) -> list[Table]:
    """An Email Log table for every enabled email integration of the workspace (idempotent)."""
    integrations = list(Integration.objects.for_workspace(workspace).email_providers().filter(enabled=True).without_secrets())
    tables = {
        table.integration_id: table
        for table in Table.objects.filter(integration__in=integrations, system_type=SystemType.EMAIL_LOG)
    }
    for integration in integrations:
        if integration.pk not in tables:
            tables[integration.pk] = ensure_email_log_table(integration)
    return sorted(tables.values(), key=lambda table: (table.created_at, table.pk))


# Sending -----------------------------------------------------------------------------------------


@dataclass
class EmailAttachment:
    filename: str
    content_type: str
    content_base64: str


@dataclass
class EmailRequest:
    """One email as a sender describes it; addresses as lists."""

    to: list[str]
    subject: str
    source: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    html: str = ""
    text: str = ""
    template_id: str = ""
    template_data: dict = field(default_factory=dict)
    attachments: list[EmailAttachment] = field(default_factory=list)


def _check_addresses(name: str, addresses: list[str], required: bool) -> list[str]:
    if required and not addresses:
        return [f"{name}: at least one address is required."]
    if len(addresses) > MAX_RECIPIENTS:
        return [f"{name}: at most {MAX_RECIPIENTS} addresses."]
    problems = []
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            problems.append(f"{name}: {address!r} is not a valid email address.")
    return problems


def validate_email_request(email: EmailRequest) -> None:
    """Raise ValidationError (a 400) naming every problem; nothing is written for an invalid email."""
    errors: dict[str, list[str]] = {}
    for name, addresses, required in (("to", email.to, True), ("cc", email.cc, False), ("bcc", email.bcc, False)):
        if problems := _check_addresses(name, addresses, required):
            errors[name] = problems
    if not email.subject.strip():
        errors["subject"] = ["Must not be empty."]
    elif len(email.subject) > 998:
        errors["subject"] = ["At most 998 characters (the email line limit)."]
    if not (email.html or email.text or email.template_id):
        errors["body"] = ["Give html, text or templateId."]
    if email.source not in EmailSource.values:
        errors["source"] = [f"Unknown source. Allowed: {', '.join(EmailSource.values)}."]
    total = 0
    for attachment in email.attachments:
        try:
            total += len(base64.b64decode(attachment.content_base64, validate=True))
        except (binascii.Error, ValueError):
            errors.setdefault("attachments", []).append(f"{attachment.filename}: content is not valid base64.")
    if total > settings.EMAIL_MAX_ATTACHMENT_BYTES:
        errors.setdefault("attachments", []).append(
            f"Attachments total {total} bytes; at most {settings.EMAIL_MAX_ATTACHMENT_BYTES} are allowed."
        )
    if errors:
        raise ValidationError(errors)


def resolve_sender(workspace, integration_id: str | None = None) -> Integration:
    """The integration that sends for the workspace: the named one, else the site email provider."""
    if integration_id:
        integration = Integration.objects.for_workspace(workspace).filter(pk=integration_id).first()
        if integration is None:
            raise ValidationError({"integrationId": ["No such integration in this workspace."]})
        if not integration.is_email_provider:
            raise ValidationError({"integrationId": ["Not an email integration (EMAIL_PROVIDER or EMAIL_PROVIDER_ALT)."]})
    else:
        integration = site_email_provider(workspace)
        if integration is None:
            raise EmailProviderNotConfigured(
                "No site email provider is configured: create an EMAIL_PROVIDER or EMAIL_PROVIDER_ALT integration "
                "with an apiKey and setAsSiteEmailProvider: true, or pass integrationId."
            )
    if not integration.enabled:
        raise EmailProviderNotConfigured(f"The email integration {integration.name!r} is disabled: enable it to send.")
    if "apiKey" not in integration.credential_fingerprints:
        raise EmailProviderNotConfigured(f"The email integration {integration.name!r} has no apiKey: add one to send.")
    return integration


def send_email(workspace, email: EmailRequest, integration_id: str | None = None) -> EmailLogEntry:
    """Log and send one email of the workspace; returns its log row.

    The row is `queued` until the provider answers: at once with the inline task backend (the row comes
    back `delivered` or `failed`), later on workers. Inside a caller's transaction the send waits for
    the commit, so a rollback sends nothing and logs nothing.
    """
    validate_email_request(email)
    integration = resolve_sender(workspace, integration_id)
    table = ensure_email_log_table(integration)
    with transaction.atomic():
        entry = EmailLogEntry.objects.create(
            table=table,
            integration=integration,
            to=", ".join(email.to),
            cc=", ".join(email.cc),
            bcc=", ".join(email.bcc),
            from_address=integration.config.get("fromEmail", ""),
            subject=email.subject,
            provider=PROVIDER_SLUG[integration.type],
            template_id=email.template_id,
            source=email.source,
            attachment_count=len(email.attachments),
        )
        OutboundEmail.objects.create(entry=entry, payload=asdict(email))
        transaction.on_commit(lambda: _enqueue_delivery(entry.pk))
    entry.refresh_from_db()
    return entry


def send_test_email(integration: Integration, to: str) -> EmailLogEntry:
    """A short test email through `integration`, sent and logged like any other (see send_email)."""
    email = EmailRequest(
        to=[to.strip()],
        subject=f"Opbox test email via {integration.name}",
        source=EmailSource.WORKFLOW_EMAIL,
        text=(
            f"This is a test email from Opbox, sent through the integration {integration.name!r} "
            "to check that it can deliver. It is logged in that integration's Email Log table."
        ),
    )
    return send_email(integration.workspace, email, integration.pk)


def _enqueue_delivery(entry_id: str) -> None:
    from .tasks import deliver_email  # the task module imports this one

    deliver_email.enqueue(entry_id)


def _lease_length() -> timedelta:
    attempts = settings.EMAIL_SEND_MAX_ATTEMPTS
    return timedelta(seconds=attempts * (settings.EMAIL_PROVIDER_TIMEOUT + settings.EMAIL_SEND_MAX_BACKOFF) + 60)


def _claim(entry_id: str, *, for_attempt: bool = False) -> OutboundEmail | None:
    """Take the email's lease, or None when it is final or another sender holds it.

    With `for_attempt`, the same UPDATE records the first provider attempt: one commit, not two.
    """
    now = timezone.now()
    changes = {"lease_expires_at": now + _lease_length()}
    if for_attempt:
        changes.update(attempts=F("attempts") + 1, last_attempt_at=now)
    claimed = OutboundEmail.objects.filter(pk=entry_id).exclude(lease_expires_at__gt=now).update(**changes)
    if not claimed:
        return None
    return OutboundEmail.objects.select_related("entry__integration").get(pk=entry_id)


def _message_for(outbox: OutboundEmail, integration: Integration) -> OutboundMessage:
    """The provider message for the EmailRequest stored in the outbox (as `asdict` wrote it)."""
    email = dict(outbox.payload)
    attachments = email.pop("attachments")
    email.pop("source")
    return OutboundMessage(
        from_email=integration.config.get("fromEmail", ""),
        from_name=integration.config.get("fromName", ""),
        **{**email, "template_data": email["template_data"] or None},
        attachments=[
            Attachment(a["filename"], a["content_type"], base64.b64decode(a["content_base64"])) for a in attachments
        ],
    )


def _finish(outbox: OutboundEmail, status: str, *, message_id: str = "", error: str = "") -> EmailLogEntry:
    entry = outbox.entry
    entry.status, entry.message_id, entry.error = status, message_id, error[:2000]
    with transaction.atomic():
        entry.save(update_fields=["status", "message_id", "error"])
        outbox.delete()
    return entry


def _backoff_seconds(error: ProviderError, attempt: int) -> float:
    delay = error.retry_after if error.retry_after is not None else 0.5 * 2**attempt
    return max(0.0, min(delay, settings.EMAIL_SEND_MAX_BACKOFF))


def deliver_queued_email(entry_id: str) -> str:
    """Send a queued email through its integration, retrying 429s and 5xx; write the final status.

    Returns the final status, or "skipped" when the email is already final or claimed elsewhere.
    """
    outbox = _claim(entry_id, for_attempt=True)
    if outbox is None:
        return "skipped"
    integration = outbox.entry.integration
    if integration is None or not integration.enabled:
        return _finish(outbox, EmailStatus.FAILED, error="The email integration was deleted or disabled before sending.").status
    try:
        client = client_for(integration.type, integration.credentials.get("apiKey", ""))
        message = _message_for(outbox, integration)
    except EncryptionError as error:
        return _finish(outbox, EmailStatus.FAILED, error=str(error)).status
    max_attempts = max(1, settings.EMAIL_SEND_MAX_ATTEMPTS)
    for attempt in range(max_attempts):
        if attempt:  # the claim recorded the first attempt; each retry is recorded before its call
            outbox.attempts += 1
            outbox.last_attempt_at = timezone.now()
            outbox.save(update_fields=["attempts", "last_attempt_at"])
        try:
            message_id = client.send(message, idempotency_key=outbox.idempotency_key)
        except ProviderError as error:
            if error.retryable and attempt + 1 < max_attempts:
                time.sleep(_backoff_seconds(error, attempt))
                continue
            logger.info("Email %s failed after %d attempt(s): %s", entry_id, outbox.attempts, error)
            return _finish(outbox, EmailStatus.FAILED, error=str(error)).status
        except Exception:
            # A bug of ours, not the provider's answer: record it (the row must not stay queued forever).
            logger.exception("Unexpected error while sending email %s", entry_id)
            return _finish(outbox, EmailStatus.FAILED, error="Internal error while sending; see the server log.").status
        return _finish(outbox, EmailStatus.DELIVERED, message_id=message_id).status
    raise AssertionError("unreachable: the last attempt always finishes the email")


# Crash recovery ----------------------------------------------------------------------------------


def resolve_inflight_emails(older_than: timedelta = timedelta(minutes=15)) -> dict:
    """Settle emails left `queued` by a crash: resend where that cannot duplicate, else mark them failed.

    A row never attempted, or sent through provider A (whose idempotency key makes a resend a no-op), is
    delivered again; a provider-B send interrupted mid-call has an unknown outcome and is marked failed.
    """
    now = timezone.now()
    counts = {"resent": 0, "marked_failed": 0}
    stale = (
        OutboundEmail.objects.filter(entry__status=EmailStatus.QUEUED, entry__sent_at__lt=now - older_than)
        .exclude(lease_expires_at__gt=now)
        .select_related("entry")
        .order_by("entry__sent_at")
    )
    for outbox in stale.iterator(chunk_size=200):
        if outbox.attempts == 0 or outbox.entry.provider == PROVIDER_SLUG["EMAIL_PROVIDER"]:
            deliver_queued_email(outbox.pk)
            counts["resent"] += 1
        elif (claimed := _claim(outbox.pk)) is not None:
            _finish(
                claimed,
                EmailStatus.FAILED,
                error="Sending was interrupted; the provider may have accepted it. Check the provider's activity log.",
            )
            counts["marked_failed"] += 1
    return counts
