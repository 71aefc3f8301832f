"""The periodic re-check (SPEC §13): every enabled integration is checked again every
INTEGRATION_CHECK_INTERVAL_HOURS, at its service's pace, except those whose check posts something (a webhook's
test event, a Slack webhook's test message): nobody wants one of those a day. Run by a self-scheduling task
on the workers (tasks.py), or by `manage.py check_integrations`.
"""

import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .connection_checks import check_integration
from .models import Integration
from .pacing import take_turn
from .providers import connector_for

BATCH = 100
MAX_TURN_WAIT = 5.0  # seconds a re-check waits for its integration's turn; longer (a 429's pause) and it waits for the next run


@dataclass
class RecheckReport:
    checked: int = 0
    failed: int = 0
    skipped: int = 0  # not its turn yet (its service is paused after a 429)
    finished: bool = True


def check_interval() -> timedelta | None:
    hours = settings.INTEGRATION_CHECK_INTERVAL_HOURS
    return timedelta(hours=hours) if hours and hours > 0 else None


def rechecked_without_posting(integration: Integration) -> bool:
    """Whether the periodic re-check may check it: its check sends nothing anyone sees (the connector says)."""
    return not connector_for(integration.type).posts_when_checked(integration.config, integration.credential_fingerprints)


def _due(interval: timedelta):
    stale = Q(last_checked_at__isnull=True) | Q(last_checked_at__lt=timezone.now() - interval)
    return Integration.objects.filter(stale, enabled=True).order_by(F("last_checked_at").asc(nulls_first=True), "pk")


def _my_turn(integration: Integration) -> bool:
    rate = connector_for(integration.type).requests_per_second
    when = take_turn(integration.pk, rate)
    if when is None:
        return True
    wait = (when - timezone.now()).total_seconds()
    if wait > MAX_TURN_WAIT:
        return False
    time.sleep(max(0.0, wait))
    return take_turn(integration.pk, rate, reserved=True) is None or _my_turn(integration)


def recheck_due(*, deadline: float | None = None) -> RecheckReport:
    """Check every due integration once, paced, until `deadline` (time.monotonic()); returns what it did."""
    report, interval = RecheckReport(), check_interval()
    if interval is None:
        return report
    seen: set[str] = set()
    while batch := list(_due(interval).exclude(pk__in=seen)[:BATCH]):
        for integration in batch:
            seen.add(integration.pk)
            if not rechecked_without_posting(integration):
                continue
            if deadline is not None and time.monotonic() > deadline:
                report.finished = False
                return report
            if not _my_turn(integration):
                report.skipped += 1
                continue
            outcome = check_integration(integration)
            report.checked += 1
            report.failed += not outcome.ok
    return report
