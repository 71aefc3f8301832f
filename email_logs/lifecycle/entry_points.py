"""Data lifecycle (SPEC §12), the entry points the API, pages, commands and signals call: erasing an
address (then sweeping for sends that raced it), and keeping the retention purge chain alive.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from opbox import task_chain

from ..sending.claims import lease_length
from ..tasks import PURGE_CHAIN, purge_expired_email_logs, sweep_erased_address
from . import erasure, retention

logger = logging.getLogger(__name__)


def erase_address(workspace, address, *, actor=None) -> erasure.Erasure:
    """Erase `address` from the workspace's Email Log, events and suppressions (email_logs.lifecycle.erasure), and
    schedule the sweep for rows that raced it, once every send in flight has settled."""
    began = timezone.now()
    result, digest = erasure.erase_now(workspace, address, actor=actor)
    sweep_at = timezone.now() + lease_length()
    since = (began - erasure.RACE_WINDOW).isoformat()
    task_chain.enqueue_at(sweep_erased_address, sweep_at, workspace.pk, digest, since, result.in_flight)
    # The hash's head only: enough to match the audit event, nothing to recover the address from.
    logger.info(
        "Erased an address (hash %s...) in workspace %s: %d rows, %d events",
        digest[:12],
        workspace.slug,
        result.rows,
        result.events,
    )
    return result


def keep_purge_scheduled():
    """Make sure the retention purge chain is alive while some workspace has a retention period (started,
    or restarted when overdue). None when no workspace has one, or when the task backend runs tasks inline,
    where `purge_email_logs` must be scheduled (cron) instead."""
    if not retention.retention_is_set():
        return None
    interval = timedelta(seconds=settings.EMAIL_LOG_PURGE_INTERVAL)
    return task_chain.ensure_chain(purge_expired_email_logs, PURGE_CHAIN, lost_after=interval)


def purge_now(workspace=None, *, dry_run=False) -> list[retention.Purge]:
    """Purge expired rows now, to the end (the management command)."""
    return retention.purge_expired(workspace, dry_run=dry_run)


# Each worker process checks now and then that the purge chain is alive (connected in EmailLogsConfig.ready).
keep_purge_scheduled_on_worker = task_chain.WorkerCheck(
    purge_expired_email_logs, keep_purge_scheduled, every=timedelta(minutes=10), chain=PURGE_CHAIN
)
