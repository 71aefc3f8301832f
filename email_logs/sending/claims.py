"""Claims on the outbox (SPEC §5): which sender holds which queued email, until when, and how many attempts
it has had. A claim leases the records under their row locks; the lease says who sends an email, and the
in-flight sweep takes back only what no lease covers.
"""

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django_tasks_db.utils import exclusive_transaction

from ..events.suppressions import withhold_from_outboxes
from ..models import OutboundEmail

# The order of a call's emails: the order they were logged in (a batch request's), the same on every retry.
CALL_ORDER = ("entry__created_at", "pk")


def lease_length() -> timedelta:
    """Long enough for every attempt of one email, with its waits, and a margin."""
    attempts = settings.EMAIL_SEND_MAX_ATTEMPTS
    return timedelta(seconds=attempts * (settings.EMAIL_PROVIDER_TIMEOUT + settings.EMAIL_SEND_MAX_BACKOFF) + 60)


def unleased(now: datetime, hold: datetime | None = None) -> Q:
    """Outbox records no sender holds now."""
    # A lease that ran out, or the very hold a scheduled retry was given (whatever this node's clock says).
    free = Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now)
    return free | Q(lease_expires_at=hold) if hold else free


def lease(rows: list[OutboundEmail], now: datetime, *, attempt: bool = True, batch_id: str = "") -> list[OutboundEmail]:
    """Hold `rows` (locked by the caller's transaction, or already held by this sender) for one lease from `now`,
    recording the attempt about to be made (unless `attempt` is False): every claim, and every attempt of an
    email already held, writes its lease here. Committed before the call, so after a crash `attempts` says
    whether the provider may have it."""
    until = now + lease_length()
    changes = {"lease_expires_at": until}
    if attempt:
        changes.update(attempts=F("attempts") + 1, last_attempt_at=now)
    if batch_id:
        changes["batch_id"] = batch_id
    OutboundEmail.objects.filter(pk__in=[row.pk for row in rows]).update(**changes)
    for row in rows:
        row.lease_expires_at, row.batch_id = until, batch_id or row.batch_id
        if attempt:
            row.attempts, row.last_attempt_at = row.attempts + 1, now
    return rows


def renew(rows: list[OutboundEmail], now: datetime) -> list[OutboundEmail]:
    """Of `rows` this sender leased earlier (and has not attempted since), those it still holds, leased again
    with the attempt about to be made recorded. One whose lease ran out meanwhile (a long render) may have
    been taken by another sender, the in-flight sweep's, which sends it: it is dropped here, never sent twice."""
    if not rows:
        return rows
    held = Q()
    for held_until in {row.lease_expires_at for row in rows}:
        held |= Q(pk__in=[row.pk for row in rows if row.lease_expires_at == held_until], lease_expires_at=held_until)
    until = now + lease_length()
    renewed = OutboundEmail.objects.filter(held).update(lease_expires_at=until, attempts=F("attempts") + 1, last_attempt_at=now)
    if renewed < len(rows):
        still = set(
            OutboundEmail.objects.filter(pk__in=[row.pk for row in rows], lease_expires_at=until).values_list("pk", flat=True)
        )
        rows = [row for row in rows if row.pk in still]
    for row in rows:
        row.lease_expires_at, row.attempts, row.last_attempt_at = until, row.attempts + 1, now
    return rows


# Emails that may share a batch: in none yet, never attempted (one already tried alone is retried alone, under
# its own key), without attachments.
GROUPABLE = Q(batch_id="", attempts=0, entry__attachment_count=0)


def groupable(integration_id: str, now: datetime) -> QuerySet:
    """The integration's free queued emails that may share a batch."""
    return OutboundEmail.objects.filter(GROUPABLE, unleased(now), entry__integration_id=integration_id)


def claim_emails(
    entry_ids, *, limit: int, group: bool, attempt: bool = True, hold=None, workspace_id=None, refused: list | None = None,
    coalesce: str | None = None,
) -> list[OutboundEmail]:  # fmt: skip
    """Lease up to `limit` of the emails `entry_ids` that are queued, free (no other sender's lease) and in no
    batch. With `group`, only emails never attempted and without attachments, and several taken together
    become one batch.

    With `coalesce` (an integration id, with `group`), the batch is first filled with that integration's
    oldest groupable emails, whichever request queued them, so singles queued one per request share a call;
    their own tasks find them taken and end. Records another claim has locked are skipped there; only when
    that finds nothing are `entry_ids` claimed as usual.

    With `workspace_id`, the workspace's suppressions are applied to the emails never attempted, as intake
    applies them (a suppression may have come while they waited: a backlog, the pace, a pause); those left
    with no To recipient are failed unsent, and their ids added to `refused`.
    """
    now = timezone.now()
    if coalesce and group:
        oldest = groupable(coalesce, now).select_for_update(of=("self",), skip_locked=True)
        if taken := _lease_locked(oldest, now, limit, True, attempt, workspace_id, refused):
            return taken
    rows = OutboundEmail.objects.filter(unleased(now, hold), pk__in=list(entry_ids), batch_id="")
    if group:
        rows = rows.filter(GROUPABLE)
    # A record locked by another transaction is waited for, not skipped: the lease says who sends an email, and
    # a lock may be erasure's, scrubbing it (a skipped email would wait for the in-flight sweep). Claims lock in
    # one order, and nothing that holds a record waits for a claim, so the wait is short. (SQLite's exclusive
    # transaction makes the read and the lease one step.)
    return _lease_locked(rows.select_for_update(of=("self",)), now, limit, group, attempt, workspace_id, refused)


def _lease_locked(rows, now, limit, group, attempt, workspace_id, refused) -> list[OutboundEmail]:
    with exclusive_transaction():
        taken = list(rows.select_related("entry").order_by(*CALL_ORDER)[:limit])
        if taken and workspace_id is not None and (unsent := withhold_from_outboxes(taken, workspace_id)):
            taken = [row for row in taken if row.pk not in unsent]
            if refused is not None:
                refused += sorted(unsent)
        if not taken:
            return []
        batch_id = uuid.uuid4().hex if group and len(taken) > 1 else ""
        return lease(taken, now, attempt=attempt, batch_id=batch_id)


def claim_batch(batch_id: str, *, attempt: bool = True, hold=None) -> list[OutboundEmail]:
    """Lease every email of an existing batch, or none when any is held elsewhere (it is sent whole or not)."""
    now = timezone.now()
    with exclusive_transaction():
        members = list(
            OutboundEmail.objects.filter(batch_id=batch_id).select_related("entry").select_for_update(of=("self",)).order_by(*CALL_ORDER)
        )
        held = [m for m in members if m.lease_expires_at and m.lease_expires_at > now and m.lease_expires_at != hold]
        if not members or held:
            return []
        return lease(members, now, attempt=attempt)
