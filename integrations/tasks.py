"""Django tasks of the integrations app: the self-scheduling re-check chain (opbox.task_chain)."""

import logging
import time
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone
from django_tasks import task

from opbox import task_chain

from .rechecks import check_interval, recheck_due

logger = logging.getLogger(__name__)

RECHECK_CHAIN = "integration-recheck"
RECHECK_EVERY = timedelta(hours=1)  # how often the chain looks for integrations whose interval has passed
RECHECK_RUN_SECONDS = 120  # at most this long a run; with checks left over it hands the turn straight on
FIRST_RUN_DELAY = timedelta(minutes=5)  # a (re)started chain's first run: after a deploy has settled, not mid-start


def _link_interval() -> timedelta:
    interval = check_interval()
    return min(RECHECK_EVERY, interval) if interval else RECHECK_EVERY


@task()
def recheck_integrations(token: str) -> dict:
    """One link of the re-check chain: take the turn (which enqueues the next run), then check what is due."""
    needed = lambda: check_interval() is not None  # noqa: E731  (INTEGRATION_CHECK_INTERVAL_HOURS=0 ends the chain)
    next_token = task_chain.advance(recheck_integrations, RECHECK_CHAIN, token, timezone.now() + _link_interval(), needed=needed)
    if next_token is None:
        return {"ran": False}
    report = recheck_due(deadline=time.monotonic() + RECHECK_RUN_SECONDS)
    if not report.finished:
        task_chain.advance(recheck_integrations, RECHECK_CHAIN, next_token, timezone.now())
    return {"ran": True, "checked": report.checked, "failed": report.failed, "skipped": report.skipped, "finished": report.finished}


def keep_recheck_scheduled():
    """Start the re-check chain if it has none (or its run is long overdue); None where tasks run inline or the
    re-check is off (then `manage.py check_integrations` does it)."""
    if check_interval() is None:
        return None
    return task_chain.ensure_chain(
        recheck_integrations, RECHECK_CHAIN, lost_after=2 * _link_interval(), first_run_at=timezone.now() + FIRST_RUN_DELAY
    )


def keep_recheck_scheduled_after_migrate(**kwargs):
    """`post_migrate` receiver: a deploy finds the chain running (or restarts a lost one)."""
    try:
        keep_recheck_scheduled()
    except DatabaseError:
        logger.exception("Could not check the integration re-check chain")


# The first task a worker process runs, then one an hour, makes sure the chain lives (connected in
# IntegrationsConfig.ready).
keep_recheck_scheduled_on_worker = task_chain.WorkerCheck(
    recheck_integrations, keep_recheck_scheduled, every=RECHECK_EVERY, chain=RECHECK_CHAIN
)
