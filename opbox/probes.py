"""What /readyz and the pages ask of the apps above opbox, without importing them: each app registers its
readiness checks and backlogs in `AppConfig.ready()` (as `admin.site` is filled by autodiscover).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

STALE_AFTER = timedelta(minutes=5)  # work waiting longer than this means no worker is taking it

# name -> a function answering None when ready, else what is wrong and what to do (never a secret).
_readiness_checks: dict[str, Callable[[], str | None]] = {}
# name -> a function of a workspace (None: every workspace) answering that backlog now.
_backlogs: dict[str, Callable[[object], "Backlog"]] = {}


@dataclass(frozen=True)
class Backlog:
    """Work waiting for a background worker: how much, and since when."""

    count: int
    oldest: datetime | None
    noun: str  # plural, e.g. "emails"
    hint: str  # what to check when it waits too long, e.g. that a worker runs

    @property
    def is_stale(self) -> bool:
        return self.oldest is not None and timezone.now() - self.oldest > STALE_AFTER

    @property
    def oldest_age_seconds(self) -> int | None:
        return None if self.oldest is None else max(0, int((timezone.now() - self.oldest).total_seconds()))


def register_readiness_check(name: str, check: Callable[[], str | None]) -> None:
    _readiness_checks[name] = check


def readiness_checks() -> dict[str, Callable[[], str | None]]:
    return dict(_readiness_checks)


def register_backlog(name: str, backlog: Callable[[object], Backlog]) -> None:
    _backlogs[name] = backlog


def backlogs(workspace=None) -> dict[str, Backlog]:
    """Every registered backlog, of one workspace or (None) of all."""
    return {name: backlog(workspace) for name, backlog in _backlogs.items()}
