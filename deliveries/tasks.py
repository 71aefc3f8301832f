"""Django tasks: the fan-out, the attempts, and the sweep chain; inline with the immediate backend (SQLite's
first run: the first attempt happens after the commit, in process; retries need a worker), on db_worker
(or rqworker) otherwise."""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from django_tasks import task

from integrations.models import Integration
from opbox import task_chain
from opbox.task_queue import enqueue_each_with_transaction, enqueue_with_transaction, is_waiting

from . import attempts, fan_out, sweep
from .subscriptions import deliveries_per_task

logger = logging.getLogger(__name__)

SWEEP_CHAIN = "delivery-sweep"
FAN_OUT_ROUNDS = 20  # batches one fan-out task takes before handing on to a fresh task


def _enqueue_attempts(tasks: list[tuple[str, list[str]]]) -> None:
    """With the transaction that made them due (the fan-out's, the sweep's)."""
    enqueue_each_with_transaction(deliver_events, [[integration_id, ids] for integration_id, ids in tasks])


def _enqueue_later(when: datetime | None, integration_id: str, delivery_ids: list[str], reserved: bool = False) -> None:
    """Enqueue an attempt to run at `when` (None: as soon as a worker reaches it in the queue), with the
    transaction that recorded why."""
    enqueue_with_transaction(deliver_events, integration_id, delivery_ids, reserved, run_after=when)


# Below email sends (priority 0) in the workers' queue: a subscriber that is down or paced must not hold
# the sending of the emails it would hear about (the load test's queue drained in 60 s instead of 1 s).
DELIVERY_PRIORITY = -10


def _later():
    """How an attempt reschedules: a task with `run_after`, or None where tasks run inline."""
    return _enqueue_later if task_chain.can_defer(deliver_events) else None


@task(priority=DELIVERY_PRIORITY)
def fan_out_events() -> dict:
    """Fan out the events not fanned out yet, a batch a transaction; concurrent runs take different events."""
    events = deliveries = 0
    for _ in range(FAN_OUT_ROUNDS):
        done = fan_out.fan_out_batch(_enqueue_attempts)
        events, deliveries = events + done.events, deliveries + done.deliveries
        if done.events < fan_out.BATCH:
            break
    else:
        fan_out_events.enqueue()  # more left: a fresh task, so other work interleaves
    return {"events": events, "deliveries": deliveries}


@task(priority=DELIVERY_PRIORITY)
def deliver_events(integration_id: str, delivery_ids: list, reserved: bool = False) -> str:
    """One attempt at some deliveries of one integration (see attempts.attempt); `reserved`: it comes back for
    the pacing turn reserved for it."""
    return attempts.attempt(integration_id, list(delivery_ids), later=_later(), reserved=reserved)


def fan_out_after_commit() -> None:
    """`workspaces.events.on_recorded` listener: a transaction that recorded events committed."""
    try:
        if not is_waiting(fan_out_events):  # one waiting will see this commit's events: no need for another
            fan_out_events.enqueue()
    except DatabaseError:  # the sweep fans out what no task did
        logger.exception("Could not enqueue the fan-out of workspace events")


def _batch_size(integration_id: str) -> int:
    integration_type = Integration.objects.filter(pk=integration_id).values_list("type", flat=True).first()
    return deliveries_per_task(integration_type) if integration_type else 1


def sweep_now() -> dict:
    """Attempt again what dead workers and lost tasks left (the chain's work; a command where tasks run inline)."""
    unfanned = sweep.events_left_unfanned()
    if unfanned:
        fan_out_events.enqueue()
    return {"deliveries": sweep.sweep(_enqueue_attempts, _batch_size), "fanOut": unfanned}


@task()
def sweep_deliveries(token: str) -> dict:
    """One link of the sweep chain (task_chain): take the turn, which enqueues the next run, then sweep."""
    next_run_at = timezone.now() + timedelta(seconds=settings.DELIVERY_SWEEP_SECONDS)
    if task_chain.advance(sweep_deliveries, SWEEP_CHAIN, token, next_run_at) is None:
        return {"ran": False}
    return {"ran": True, **sweep_now()}


def keep_sweep_scheduled():
    every = timedelta(seconds=settings.DELIVERY_SWEEP_SECONDS)
    return task_chain.ensure_chain(sweep_deliveries, SWEEP_CHAIN, lost_after=2 * every)


_sweep_ensured_at: float | None = None


def keep_sweep_scheduled_on_worker(sender=None, **kwargs):
    """`task_started` receiver: a worker's first task, then one a sweep interval, makes sure the chain is alive."""
    global _sweep_ensured_at
    now = time.monotonic()
    if _sweep_ensured_at is not None and now - _sweep_ensured_at < settings.DELIVERY_SWEEP_SECONDS:
        return
    _sweep_ensured_at = now
    try:
        keep_sweep_scheduled()
    except DatabaseError:
        logger.exception("Could not check the delivery sweep chain")
