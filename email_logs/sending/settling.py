"""Settling sent emails (SPEC §5, §7): each email's final status written to its row, with what the provider
events received meanwhile say, in the transaction that drops its outbox record.
"""

from django.db import transaction
from django.utils import timezone
from django_tasks_db.utils import exclusive_transaction

from opbox.bulk import update_each
from opbox.transactions import run_transaction

from ..events import receiving
from ..models import MAX_ERROR_LENGTH, EmailLogEntry, EmailStatus, OutboundEmail, SendFailure
from ..outgoing_events import SETTLED, record_email_events
from .claims import CALL_ORDER, claim_batch, lease, unleased


def settle_all(results) -> list[EmailLogEntry]:
    """Write each (outbox, status, message id, error, failure) as its row's final state and drop the outbox records,
    in one transaction of four statements whatever their number (run again if it loses a deadlock).

    The rows are read under their locks, not from the sender's copy taken at the claim: a provider event
    applied meanwhile stays. A row an event already failed stays failed, the provider's answer joining
    its Error; the row's stored bounces and drops are applied again over the settled state, so partial
    bounces keep their note and the last recipient to fail still fails the row.
    """
    results = list(results)
    if results:
        run_transaction(lambda: _settle(results))
    return [outbox.entry for outbox, *_ in results]


def _settle(results) -> None:
    fields = ["status", "message_id", "error", "attempts", "failure"]
    with transaction.atomic():
        rows = receiving.lock_rows([outbox.pk for outbox, *_ in results])
        failures = receiving.stored_failures(rows)
        changes, settled = {}, []
        for outbox, status, message_id, error, failure in results:
            row, entry = rows.get(outbox.pk), outbox.entry
            if row is None:  # deleted meanwhile (its workspace, or retention): nothing to write
                continue
            # What the row says already (a note written at send time, an event's failure) stays beside the answer.
            error = "; ".join(part for part in (error if error not in row["error"] else "", row["error"]) if part)
            if row["status"] == EmailStatus.FAILED:  # an event failed it first: failed stays failed
                status = EmailStatus.FAILED
            elif status != EmailStatus.FAILED and failures[outbox.pk]:
                status, error = receiving.failure_outcome(row | {"status": status, "error": error}, failures[outbox.pk])
            entry.status, entry.message_id, entry.error, entry.attempts = status, message_id, error[:MAX_ERROR_LENGTH], outbox.attempts
            entry.failure = failure
            changes[entry.pk] = tuple(getattr(entry, name) for name in fields)
            if status != row["status"] and status in SETTLED:  # the row became delivered (accepted) or failed
                settled.append((entry.pk, SETTLED[status]))
        # One statement for every row (opbox.bulk): bulk_update's CASE per field and row would cost more to
        # build than the provider call for a batch of 100.
        update_each(EmailLogEntry, fields, changes)
        record_email_events(settled)  # email.sent / email.failed, committed with the rows or not at all
        OutboundEmail.objects.filter(pk__in=[outbox.pk for outbox, *_ in results]).delete()


def settle(outbox: OutboundEmail, status: str, *, message_id: str = "", error: str = "", failure: str = "") -> EmailLogEntry:
    """Write one email's final status and drop its outbox record, in one transaction."""
    return settle_all([(outbox, status, message_id, error, failure)])[0]


def fail_unsent(error: str, failure: SendFailure, entry_ids=(), batch_id: str = "") -> dict:
    """Settle `failed` for the reason `failure`, without any provider call, the free emails of `entry_ids`
    (in a batch or not) or of the batch `batch_id`."""
    if batch_id:
        rows = claim_batch(batch_id, attempt=False)
    else:
        now = timezone.now()
        with exclusive_transaction():
            free = OutboundEmail.objects.filter(unleased(now), pk__in=list(entry_ids)).select_related("entry")
            rows = lease(list(free.select_for_update(of=("self",)).order_by(*CALL_ORDER)), now, attempt=False)
    settle_all((row, EmailStatus.FAILED, "", error, failure) for row in rows)
    return {"failed": len(rows)} if rows else {}
