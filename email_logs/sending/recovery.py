"""Crash recovery: settle emails a dead process left `queued`."""

import time
from collections import defaultdict
from datetime import timedelta

from django.utils import timezone

from integrations import pacing
from integrations.providers import provider_for_slug

from ..models import EmailStatus, OutboundEmail, SendFailure
from .delivery import deliver_queued
from .settling import fail_unsent

CHUNK = 100  # emails handed to one delivery run, so the time limit is checked between them
INTERRUPTED = "Sending was interrupted; the provider may have accepted it. Check the provider's activity log."


def resolve_inflight_emails(older_than: timedelta = timedelta(minutes=15), *, seconds: float = 120.0) -> dict:
    """Settle emails left `queued` by a crash: resend where that cannot duplicate, else mark them failed.

    Never attempted: sent now (several together where the provider batches). A batch (provider A): resent
    whole, the same members under the same Idempotency-Key, which the provider deduplicates. One email
    attempted alone: resent under its own key where the provider makes that idempotent; otherwise its
    outcome is unknown and it is marked failed. Sends are paced like any other; after `seconds` the rest
    is left to the next run. Emails held for a scheduled retry (a live lease), and those of an integration
    whose pause has not ended, are waiting, not crashed: they are left alone.
    """
    began, now = time.monotonic(), timezone.now()
    counts = {"resent": 0, "marked_failed": 0}
    stale = (
        OutboundEmail.objects.filter(entry__status=EmailStatus.QUEUED, entry__sent_at__lt=now - older_than)
        .exclude(lease_expires_at__gt=now)
        # A paused integration's emails wait for the pause's end (their tasks come back then), not crashed.
        .exclude(entry__integration_id__in=pacing.paused_integrations())
        .order_by("entry__sent_at")
        .values_list("pk", "batch_id", "attempts", "entry__integration_id", "entry__provider")
    )
    fresh, batches, retried, unknown = defaultdict(list), {}, defaultdict(list), []
    for entry_id, batch_id, attempts, integration_id, provider in stale.iterator(chunk_size=500):
        if attempts == 0:  # (a batch is formed by its first attempt, so these are in none)
            fresh[integration_id].append(entry_id)
        elif not provider_for_slug(provider).client_class.idempotent_sends:
            unknown.append(entry_id)
        elif batch_id:
            batches[batch_id] = integration_id
        else:
            retried[integration_id].append(entry_id)
    work = [(integration_id, [], batch_id) for batch_id, integration_id in batches.items()]
    for integration_id, ids in (*fresh.items(), *retried.items()):
        work += [(integration_id, ids[i : i + CHUNK], "") for i in range(0, len(ids), CHUNK)]
    for integration_id, ids, batch_id in work:
        if time.monotonic() - began > seconds:
            break
        done = deliver_queued(integration_id, ids, batch_id=batch_id)  # inline: no task to hand retries to
        counts["resent"] += sum(done.values())
    if unknown:
        counts["marked_failed"] = fail_unsent(INTERRUPTED, SendFailure.INTERRUPTED, unknown).get("failed", 0)
    return counts
