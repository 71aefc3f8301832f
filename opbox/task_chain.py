"""Self-scheduling tasks kept to exactly one live chain, however many workers run and however often they restart.

A chain is a `TaskChain` row and the one enqueued run that carries its current `token`. A run first
*advances the chain*: under the row's lock it checks its token, writes a fresh one and enqueues the next run
with it, all in one transaction, and only then works. So:

- a duplicate copy of a run (enqueued twice, retried by the queue, left from a chain that was restarted)
  finds another token and stops without working: two workers never purge side by side;
- a worker killed mid-run has already enqueued the next run, so the chain goes on;
- on the database task backend the enqueue is an INSERT in that same transaction, so a run is never
  linked without its successor, nor the reverse. Elsewhere (RQ) a lost enqueue leaves the chain overdue,
  and `ensure_chain` (called by every path that needs the chain) starts a new one, fencing the old.

Backends that cannot defer a task (the inline one used by tests and SQLite first runs) cannot hold a
chain: `ensure_chain` says so and the work is left to its management command.

Each worker process checks now and then that the chains it knows of are alive: `WorkerCheck`, connected
to `task_started`, the one way every app does it.
"""

import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone
from django_tasks.signals import task_started

from .models import TaskChain

logger = logging.getLogger(__name__)


def can_defer(task) -> bool:
    return task.get_backend().supports_defer


def enqueue_at(task, when: datetime, *args):
    """Enqueue `task(*args)` to run at `when`; a backend that cannot defer (the inline one) runs it now."""
    return task.using(run_after=when).enqueue(*args) if can_defer(task) else task.enqueue(*args)


def _relink(chain: TaskChain, task, run_at: datetime) -> str:
    # The caller holds the row's lock, inside a transaction: the token and the enqueue commit together.
    chain.token, chain.next_run_at = uuid.uuid4(), run_at
    chain.save(update_fields=["token", "next_run_at", "updated_at"])
    task.using(run_after=run_at).enqueue(str(chain.token))
    return str(chain.token)


def advance(task, name: str, token: str, next_run_at: datetime, *, needed: Callable[[], bool] | None = None) -> str | None:
    """If `token` is the chain's current one, enqueue the chain's next run of `task` at `next_run_at` and
    return its token; otherwise None: this run was superseded and must not work.

    `needed`, asked under the chain's lock, may end the chain (None too): `ensure_chain` starts it again
    when it is needed, and as it takes the same lock, an ending and a restart never miss each other.
    """
    with transaction.atomic():
        chain = TaskChain.objects.select_for_update().filter(name=name).first()
        if chain is None or str(chain.token) != token:
            return None
        if needed is not None and not needed():
            chain.delete()
            return None
        return _relink(chain, task, next_run_at)


def ensure_chain(task, name: str, *, lost_after: timedelta, first_run_at: datetime | None = None) -> TaskChain | None:
    """Start the chain of `task` if it has none, or if its next run is overdue by more than `lost_after`
    (its enqueued run was lost); otherwise leave it alone. None when the backend cannot defer tasks.
    """
    if not can_defer(task):
        return None
    now = timezone.now()
    with transaction.atomic():
        chain = TaskChain.objects.select_for_update().filter(name=name).first()
        if chain is None:
            try:
                with transaction.atomic():
                    chain = TaskChain.objects.create(name=name, token=uuid.uuid4(), next_run_at=now)
            except IntegrityError:  # another caller created it first: wait for its lock, then judge it
                chain = TaskChain.objects.select_for_update().get(name=name)
            else:
                _relink(chain, task, first_run_at or now)
                return chain
        if chain.next_run_at < now - lost_after:
            _relink(chain, task, first_run_at or now)
    return chain


class WorkerCheck:
    """A `task_started` receiver that keeps one chain alive from the worker processes: the first task a
    process runs, then one every `every`, calls `keep` (which starts the chain, or restarts a lost one), so
    a restart or a lost enqueue never stops the chain for long. Nothing happens where `task` cannot be
    deferred (no chain there), and a database error is logged, never raised: the task that triggered the
    check must not fail for it, and the next check tries again.
    """

    def __init__(self, task, keep: Callable[[], object], *, every: timedelta, chain: str):
        self.task, self.keep, self.every, self.chain = task, keep, every, chain
        self.checked_at: float | None = None  # this process's last check (time.monotonic)

    def __call__(self, sender=None, **kwargs) -> None:
        now = time.monotonic()
        if not can_defer(self.task) or (self.checked_at is not None and now - self.checked_at < self.every.total_seconds()):
            return
        self.checked_at = now
        try:
            self.keep()
        except DatabaseError:
            logger.exception("Could not check the task chain %s", self.chain)

    def connect(self) -> None:
        """Check on the workers (call it from `AppConfig.ready`); connecting twice is harmless."""
        task_started.connect(self, dispatch_uid=f"task_chain.worker_check.{self.chain}")
