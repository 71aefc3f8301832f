"""Delivery on the worker: claim a queued email with a lease, call its provider (retrying 429s and
5xx), and settle its row `delivered` or `failed`.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from integrations.crypto import EncryptionError
from integrations.providers import ProviderError, client_for

from .models import EmailLogEntry, EmailStatus, OutboundEmail

logger = logging.getLogger(__name__)


def lease_length() -> timedelta:
    """Long enough for every attempt of one email, with its waits, and a margin."""
    attempts = settings.EMAIL_SEND_MAX_ATTEMPTS
    return timedelta(seconds=attempts * (settings.EMAIL_PROVIDER_TIMEOUT + settings.EMAIL_SEND_MAX_BACKOFF) + 60)


def claim(entry_id: str, *, for_attempt: bool = False) -> OutboundEmail | None:
    """Take the email's lease, or None when it is final or another sender holds it.

    With `for_attempt`, the same UPDATE records the first provider attempt: one commit, not two.
    """
    now = timezone.now()
    changes = {"lease_expires_at": now + lease_length()}
    if for_attempt:
        changes.update(attempts=F("attempts") + 1, last_attempt_at=now)
    claimed = OutboundEmail.objects.filter(pk=entry_id).exclude(lease_expires_at__gt=now).update(**changes)
    if not claimed:
        return None
    return OutboundEmail.objects.select_related("entry__integration").get(pk=entry_id)


def settle(outbox: OutboundEmail, status: str, *, message_id: str = "", error: str = "") -> EmailLogEntry:
    """Write the email's final status and drop its outbox record, in one transaction."""
    entry = outbox.entry
    entry.status, entry.message_id, entry.error = status, message_id, error[:2000]
    entry.attempts = outbox.attempts
    with transaction.atomic():
        entry.save(update_fields=["status", "message_id", "error", "attempts"])
        outbox.delete()
    return entry


def backoff_seconds(error: ProviderError, attempt: int) -> float:
    """The wait before retry number `attempt + 1`: the provider's Retry-After, else exponential; capped."""
    delay = error.retry_after if error.retry_after is not None else 0.5 * 2**attempt
    return max(0.0, min(delay, settings.EMAIL_SEND_MAX_BACKOFF))


def _record_attempt(outbox: OutboundEmail) -> None:
    # Written before the call: after a crash, `attempts` says whether the provider may have it.
    outbox.attempts += 1
    outbox.last_attempt_at = timezone.now()
    outbox.save(update_fields=["attempts", "last_attempt_at"])


def deliver_queued_email(entry_id: str) -> str:
    """Send a queued email through its integration, retrying 429s and 5xx; write the final status.

    Returns the final status, or "skipped" when the email is already final or claimed elsewhere.
    """
    outbox = claim(entry_id, for_attempt=True)
    if outbox is None:
        return "skipped"
    integration = outbox.entry.integration
    if integration is None or not integration.enabled:
        return settle(outbox, EmailStatus.FAILED, error="The email integration was deleted or disabled before sending.").status
    try:
        client = client_for(integration.type, integration.credentials.get("apiKey", ""))
    except EncryptionError as error:
        return settle(outbox, EmailStatus.FAILED, error=str(error)).status
    message = outbox.message
    if not message.from_email:  # queued before the sender was stored with the message
        message.from_email, message.from_name = integration.config.get("fromEmail", ""), integration.config.get("fromName", "")
    max_attempts = max(1, settings.EMAIL_SEND_MAX_ATTEMPTS)
    for attempt in range(max_attempts):
        if attempt:  # the claim recorded the first attempt
            _record_attempt(outbox)
        try:
            message_id = client.send(message, idempotency_key=outbox.idempotency_key)
        except ProviderError as error:
            if error.retryable and attempt + 1 < max_attempts:
                time.sleep(backoff_seconds(error, attempt))
                continue
            logger.info("Email %s failed after %d attempt(s): %s", entry_id, outbox.attempts, error)
            return settle(outbox, EmailStatus.FAILED, error=str(error)).status
        except Exception:
            # A bug of ours, not the provider's answer: record it (the row must not stay queued forever).
            logger.exception("Unexpected error while sending email %s", entry_id)
            return settle(outbox, EmailStatus.FAILED, error="Internal error while sending; see the server log.").status
        return settle(outbox, EmailStatus.DELIVERED, message_id=message_id).status
    raise AssertionError("unreachable: the last attempt always settles the email")
