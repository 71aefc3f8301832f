"""Crash recovery: settle emails a dead process left `queued`."""

from datetime import timedelta

from django.utils import timezone

from integrations.providers import provider_for_slug

from .delivery import claim, deliver_queued_email, settle
from .models import EmailStatus, OutboundEmail


def resolve_inflight_emails(older_than: timedelta = timedelta(minutes=15)) -> dict:
    """Settle emails left `queued` by a crash: resend where that cannot duplicate, else mark them failed.

    A row never attempted, or whose provider makes a resend idempotent, is delivered again; a send
    interrupted mid-call through a provider without idempotent sends has an unknown outcome and is
    marked failed.
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
        if outbox.attempts == 0 or provider_for_slug(outbox.entry.provider).client_class.idempotent_sends:
            deliver_queued_email(outbox.pk)
            counts["resent"] += 1
        elif (claimed := claim(outbox.pk)) is not None:
            settle(
                claimed,
                EmailStatus.FAILED,
                error="Sending was interrupted; the provider may have accepted it. Check the provider's activity log.",
            )
            counts["marked_failed"] += 1
    return counts
