"""Django tasks: sending queued emails, the retention purge chain, the erasure sweep and the in-flight
sweep chain; inline with the immediate backend, on db_worker (or rqworker) otherwise."""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from documents.retention import purge_expired_documents
from opbox import task_chain
from opbox.task_queue import enqueue_with_transaction

from .lifecycle import erasure, retention
from .sending import claims, delivery
from .sending.recovery import resolve_inflight_emails

logger = logging.getLogger(__name__)

PURGE_CHAIN = "email-log-purge"


@task()
def deliver_emails(integration_id: str, entry_ids: list | None = None, batch_id: str = "", slot=None, hold=None, waits=0) -> dict:
    """Send queued emails of one integration (an intake chunk, or one batch to retry); a retry or a turn
    further off than a moment is enqueued again with `run_after`, so the worker moves on meanwhile."""
    return delivery.deliver_queued(
        integration_id, entry_ids or [], batch_id=batch_id, slot=slot, hold=hold, waits=waits, later=_later()
    )


@task()
def deliver_email(entry_id: str) -> str:
    """One email (with its batch, if it has one); also runs tasks enqueued before sends were batched."""
    return delivery.deliver_queued_email(entry_id, later=_later())


def _enqueue_later(when, integration_id, **arguments) -> None:
    """With the transaction that holds its emails for it (see opbox.task_queue)."""
    enqueue_with_transaction(deliver_emails, integration_id, run_after=when, **arguments)


def _later():
    """How a delivery reschedules itself: a task with `run_after`, or None where tasks run inline."""
    return _enqueue_later if task_chain.can_defer(deliver_emails) else None


@task()
def purge_expired_email_logs(token: str) -> dict:
    """One link of the retention chain (see task_chain): take the turn, then purge for a bounded time;
    with rows left over, hand the turn straight on instead of waiting for the next interval."""
    interval = timedelta(seconds=settings.EMAIL_LOG_PURGE_INTERVAL)
    next_run_at = timezone.now() + interval
    needed = retention.retention_is_set
    next_token = task_chain.advance(purge_expired_email_logs, PURGE_CHAIN, token, next_run_at, needed=needed)
    if next_token is None:  # superseded, or no workspace deletes old rows any more: the chain ends
        return {"ran": False}
    deadline = time.monotonic() + settings.EMAIL_LOG_PURGE_RUN_SECONDS
    reports = retention.purge_expired(deadline=deadline)
    # The Document Log keeps the same retention period: its rows and stored files go in the same run.
    documents = purge_expired_documents(deadline=deadline)
    finished = all(report.finished for report in [*reports, *documents])
    if not finished:
        task_chain.advance(purge_expired_email_logs, PURGE_CHAIN, next_token, timezone.now())
    return {"ran": True, "rows": sum(r.rows for r in reports), "events": sum(r.events for r in reports),
            "documents": sum(r.rows for r in documents), "finished": finished}  # fmt: skip


ERASURE_SWEEP_ROUNDS = 24  # an email still unsettled after this many leases is left to the in-flight sweep


@task()
def sweep_erased_address(workspace_id: str, digest: str, since: str, in_flight: list | None = None, rounds: int = 1) -> dict:
    """The late sweep of an erasure (email_logs.lifecycle.erasure, step 4): it carries the hash, never the address,
    and runs again a lease later while an email it follows is still being sent."""
    found = erasure.sweep_by_hash(workspace_id, digest, datetime.fromisoformat(since), in_flight or [])
    if found.in_flight and rounds < ERASURE_SWEEP_ROUNDS and task_chain.can_defer(sweep_erased_address):
        again_at = timezone.now() + claims.lease_length()
        sweep_erased_address.using(run_after=again_at).enqueue(workspace_id, digest, since, found.in_flight, rounds + 1)
    return {"rows": found.rows, "events": found.events, "inFlight": len(found.in_flight)}


INFLIGHT_SWEEP_CHAIN = "inflight-email-sweep"
INFLIGHT_SWEEP_EVERY = timedelta(minutes=5)


@task()
def sweep_inflight_emails(token: str) -> dict:
    """One link of the in-flight sweep chain (task_chain): take the turn, which enqueues the next run
    INFLIGHT_SWEEP_EVERY from now, then settle the emails a dead process left queued."""
    next_run_at = timezone.now() + INFLIGHT_SWEEP_EVERY
    if task_chain.advance(sweep_inflight_emails, INFLIGHT_SWEEP_CHAIN, token, next_run_at) is None:
        return {"ran": False}  # a superseded copy: the chain's live run does the work
    return {"ran": True, **resolve_inflight_emails()}


def keep_sweep_scheduled():
    """Start the in-flight sweep chain if it has none, or restart it when its run is long overdue (lost).
    None where tasks run inline (no worker to sweep on: `resolve_inflight_emails` is then the command)."""
    return task_chain.ensure_chain(sweep_inflight_emails, INFLIGHT_SWEEP_CHAIN, lost_after=2 * INFLIGHT_SWEEP_EVERY)


# The first task a worker process runs, then one every INFLIGHT_SWEEP_EVERY, makes sure the sweep chain is
# alive (connected in EmailLogsConfig.ready). A process that runs no task has no email to sweep for.
keep_sweep_scheduled_on_worker = task_chain.WorkerCheck(
    sweep_inflight_emails, keep_sweep_scheduled, every=INFLIGHT_SWEEP_EVERY, chain=INFLIGHT_SWEEP_CHAIN
)
