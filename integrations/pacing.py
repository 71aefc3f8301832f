"""Shared pacing of service calls (SPEC §10, §15): an integration calls its service no faster than its account
allows, counted across every worker process and node, and a 429 pauses it for all of them.

The state is one `IntegrationPace` row per integration, in the database every worker already shares (never
per-process memory). A call takes its *turn* with one conditional UPDATE that succeeds only when the
previous call is at least one interval old and no pause runs, so the database serialises the turns (a
row lock on PostgreSQL, the single writer on SQLite) and two workers never call within one interval.
Every time it compares or records is the database's clock, read in the SQL: nodes' clocks may disagree.
A sender that cannot go now *reserves* the next free turn and comes back for it (its task is
rescheduled with `run_after`), so a hundred waiting batches wake one after another, not all at once.

Why not pyrate-limiter: its PostgreSQL bucket creates a table per limiter at run time on a connection
pool of its own, and knows no pause: a 429's Retry-After for every worker is the half of this that
matters most. A row per integration under the app's own migrations and connection does both.
"""

import math
import random
from datetime import datetime, timedelta

from django.db.models import Q
from django.db.models.functions import Coalesce, Greatest, Now
from django_tasks_db.utils import exclusive_transaction

from .models import IntegrationPace

MAX_PAUSE_SECONDS = 3600.0  # a Retry-After longer than this is taken as this


class DatabaseNow(Now):
    """The database's clock, read when the expression is evaluated. Every node asks the same clock (no skew
    between them), and on PostgreSQL it is `clock_timestamp()`, not the statement's start: an UPDATE that
    waited for the row lock, and so is re-evaluated on the row's new version, records when it went through.
    """

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="CLOCK_TIMESTAMP()", **extra_context)


def _interval(rate: float) -> timedelta:
    return timedelta(seconds=1 / rate)


def take_turn(integration_id: str, rate: float | None, *, reserved: bool = False) -> datetime | None:
    """None when the caller may call the provider now (its turn is recorded), else when to come back (on the
    database's clock; every comparison is made there, never on this node's).

    `rate` is calls per second (None: unpaced, only pauses apply). A caller coming back for a turn it
    reserved passes `reserved`: it goes before callers who reserved nothing. The time returned to a
    caller without a reservation is one reserved for it.
    """
    now = DatabaseNow()
    not_paused = Q(paused_until__isnull=True) | Q(paused_until__lte=now)
    if rate is None:
        paused = IntegrationPace.objects.filter(pk=integration_id).exclude(not_paused).values_list("paused_until", flat=True).first()
        # Unpaced senders have no turns to line them up: spread them over a second after the pause.
        return paused + timedelta(seconds=random.uniform(0, 1)) if paused else None  # noqa: S311 (not a secret)
    interval = _interval(rate)
    ready = not_paused & (Q(last_call_at__isnull=True) | Q(last_call_at__lte=now - interval))
    changes = {"last_call_at": now}
    if not reserved:  # nobody else is waiting for a reserved turn
        ready &= Q(next_slot_at__isnull=True) | Q(next_slot_at__lte=now)
        changes["next_slot_at"] = now + interval
    if IntegrationPace.objects.filter(ready, pk=integration_id).update(**changes):
        return None
    pace = IntegrationPace.objects.filter(pk=integration_id).annotate(database_now=now).first()
    if pace is None:  # the integration's first call
        IntegrationPace.objects.bulk_create([IntegrationPace(integration_id=integration_id)], ignore_conflicts=True)
        return take_turn(integration_id, rate, reserved=reserved)
    if reserved and not (pace.paused_until and pace.paused_until > pace.database_now):
        return pace.last_call_at + interval  # the turn before ours went a moment late: wait for it
    return reserve(integration_id, rate)


def reserve(integration_id: str, rate: float) -> datetime:
    """Reserve the integration's next free turn (after any pause) and return when it is."""
    interval = _interval(rate)
    now = DatabaseNow()
    # The first free turn: now, or the next unreserved one, or the end of a pause, or one interval after the
    # last call, whichever is latest (a missing one counts as now).
    slot = Greatest(now, Coalesce("next_slot_at", now), Coalesce("paused_until", now), Coalesce("last_call_at", now - interval) + interval)
    # SQLite has no row lock: its exclusive transaction makes the write and the read one step.
    with exclusive_transaction():
        IntegrationPace.objects.filter(pk=integration_id).update(next_slot_at=slot + interval)
        return IntegrationPace.objects.values_list("next_slot_at", flat=True).get(pk=integration_id) - interval


def turns_ahead(integration_id: str, rate: float) -> tuple[int, datetime | None]:
    """(how many turns senders have reserved and not yet reached, when the first turn nobody reserved is),
    read without reserving anything, on the database's clock. A sender whose calls carry other senders'
    emails too (a batch) asks this before reserving a turn that those already reserved would make needless.
    """
    interval = _interval(rate)
    pace = IntegrationPace.objects.filter(pk=integration_id).annotate(database_now=DatabaseNow()).first()
    if pace is None:
        return 0, None
    now = pace.database_now
    first_free = max(filter(None, [now, pace.next_slot_at, pace.paused_until]))
    reserved = pace.next_slot_at - interval if pace.next_slot_at else None
    ahead = math.ceil((reserved - now) / interval) if reserved and reserved > now else 0
    return ahead, first_free


def paused_integrations():
    """The ids of the integrations whose pause has not ended, as a subquery."""
    return IntegrationPace.objects.filter(paused_until__gt=DatabaseNow()).values("integration_id")


def pause(integration_id: str, seconds: float) -> datetime:
    """No worker calls the integration's provider for `seconds` (a 429's Retry-After), from now on the
    database's clock; returns until when."""
    until = DatabaseNow() + timedelta(seconds=min(max(seconds, 0.0), MAX_PAUSE_SECONDS))
    IntegrationPace.objects.bulk_create([IntegrationPace(integration_id=integration_id)], ignore_conflicts=True)
    # Only ever lengthened: a shorter Retry-After seen later does not end a longer pause early.
    IntegrationPace.objects.filter(Q(paused_until__isnull=True) | Q(paused_until__lt=until), pk=integration_id).update(
        paused_until=until
    )
    return IntegrationPace.objects.values_list("paused_until", flat=True).get(pk=integration_id)
