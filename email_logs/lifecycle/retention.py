"""Retention (SPEC §12): Email Log rows older than their workspace's retention period are deleted, with
their delivery events and outbox records.

Deletion runs in short batches, each its own transaction: the oldest expired rows of one table, taken in
the order of its newest-first index (walked backwards) and from where the last batch stopped, so a batch
never re-reads what earlier ones deleted and no transaction holds locks for long. Sends and reads carry on
beside it: new rows are never expired, and readers never wait for row locks. A row still in flight (queued,
or whose outbox a sender holds) is never deleted; it goes in a later run, once final.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan
from django.utils import timezone

from tables.models import SystemType, Table
from workspaces.models import Workspace

from ..models import EmailEvent, EmailLogEntry, EmailStatus, OutboundEmail


@dataclass
class Purge:
    """What one workspace's purge removed (or, in a dry run, would remove)."""

    workspace: str  # slug
    days: int
    cutoff: datetime
    rows: int = 0
    events: int = 0
    outbox: int = 0
    finished: bool = True  # False: the time budget ran out first; the rest goes in the next run


def retention_is_set() -> bool:
    """Whether any workspace deletes old rows (the purge chain runs only then)."""
    return Workspace.objects.filter(email_log_retention_days__isnull=False).exists()


def expired_rows(table_id, cutoff: datetime):
    """Rows of the table sent before `cutoff` that are final: never a queued row, nor one whose outbox a
    sender holds."""
    held = OutboundEmail.objects.filter(entry=OuterRef("pk"), lease_expires_at__gt=timezone.now())
    return (
        EmailLogEntry.objects.filter(table_id=table_id, sent_at__lt=cutoff)
        .exclude(status=EmailStatus.QUEUED)
        .exclude(Exists(held))
    )


def purge_expired(workspace: Workspace | None = None, *, dry_run=False, deadline: float | None = None) -> list[Purge]:
    """Delete expired Email Log rows of every workspace with a retention period (or of `workspace`).

    Past `deadline` (a time.monotonic() value) it stops after the batch in hand, having always done at
    least one; the workspace's report then says `finished=False`. A dry run counts and deletes nothing.
    """
    workspaces = Workspace.objects.filter(email_log_retention_days__isnull=False).order_by("pk")
    if workspace is not None:
        workspaces = workspaces.filter(pk=workspace.pk)
    now = timezone.now()
    reports, started = [], False
    for each in workspaces:
        report = Purge(each.slug, each.email_log_retention_days, now - timedelta(days=each.email_log_retention_days))
        reports.append(report)
        tables = Table.objects.filter(workspace=each, system_type=SystemType.EMAIL_LOG).values_list("pk", flat=True)
        for table_id in tables.order_by("pk"):
            if dry_run:
                _count_expired(table_id, report)
                continue
            if (started and _past(deadline)) or not _purge_table(table_id, report, deadline):
                report.finished = False
                return reports
            started = True
    return reports


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _count_expired(table_id, report: Purge) -> None:
    expired = expired_rows(table_id, report.cutoff)
    report.rows += expired.count()
    report.events += EmailEvent.objects.filter(entry__in=expired.values("pk")).count()
    report.outbox += OutboundEmail.objects.filter(entry__in=expired.values("pk")).count()


def _purge_table(table_id, report: Purge, deadline: float | None) -> bool:
    """Delete the table's expired rows batch by batch; False when the deadline came first."""
    after = None
    while True:
        began = time.monotonic()
        with transaction.atomic():
            batch = expired_rows(table_id, report.cutoff).order_by("sent_at", "pk")
            if after is not None:
                batch = batch.filter(TupleGreaterThan(Tuple(F("sent_at"), F("pk")), after))
            # SKIP LOCKED: a row a sender is settling right now waits for a later run; nobody waits for us.
            batch = batch.select_for_update(skip_locked=True)[: settings.EMAIL_LOG_PURGE_BATCH_SIZE]
            deleted, last, removed = _delete_batch(batch)
        if not deleted:
            return True
        after = last
        report.rows += deleted
        report.events += removed.get(EmailEvent, 0)
        report.outbox += removed.get(OutboundEmail, 0)
        if _past(deadline):
            return False
        # Rest in proportion to the work: on a busy database, sending and reading get their share back.
        time.sleep((time.monotonic() - began) * settings.EMAIL_LOG_PURGE_PAUSE_RATIO)


def dependant_relations(model=EmailLogEntry):
    """Every relation pointing at `model`, hidden ones (related_name="+") included."""
    fields = model._meta.get_fields(include_hidden=True)
    return [field for field in fields if field.auto_created and not field.concrete and (field.one_to_one or field.one_to_many)]


def _on_delete(relation):
    on_delete = relation.field.remote_field.on_delete
    if on_delete not in (models.CASCADE, models.SET_NULL, models.DO_NOTHING):
        raise ImproperlyConfigured(f"Purging Email Log rows does not know how to apply {on_delete.__name__} to {relation.field}.")
    return on_delete


def _delete_batch(batch) -> tuple[int, tuple | None, dict]:
    """Delete the rows `batch` selects and what depends on them; returns (rows deleted, the (sent_at, id)
    of the last, {dependant model: rows deleted})."""
    relations = dependant_relations()
    if connection.vendor == "postgresql" and not any(dependant_relations(r.related_model) for r in relations):
        return _delete_batch_in_one_statement(batch, relations)
    rows = list(batch.values_list("sent_at", "pk"))
    if not rows:
        return 0, None, {}
    return len(rows), rows[-1], delete_rows([pk for _, pk in rows])


def _delete_batch_in_one_statement(batch, relations) -> tuple[int, tuple | None, dict]:
    """PostgreSQL: the batch, its dependants and the rows in one statement (data-modifying CTEs): one
    round trip, no id list sent back and forth. The per-row foreign key checks at COMMIT remain."""
    quote = connection.ops.quote_name
    select, params = batch.values_list("pk").query.get_compiler(connection=connection).as_sql()
    parts, counted = [f"batch AS ({select})"], {}
    for n, relation in enumerate(relations):
        table, column, on_delete = (
            quote(relation.related_model._meta.db_table),
            quote(relation.field.column),
            _on_delete(relation),
        )
        if on_delete is models.CASCADE:
            parts.append(f"d{n} AS (DELETE FROM {table} WHERE {column} IN (SELECT * FROM batch) RETURNING 1)")
            counted[relation.related_model] = f"(SELECT count(*) FROM d{n})"
        elif on_delete is models.SET_NULL:
            parts.append(f"d{n} AS (UPDATE {table} SET {column} = NULL WHERE {column} IN (SELECT * FROM batch))")
    parts.append(
        f"gone AS (DELETE FROM {quote(EmailLogEntry._meta.db_table)} WHERE id IN (SELECT * FROM batch) RETURNING sent_at, id)"
    )
    last = "(SELECT {} FROM gone ORDER BY sent_at DESC, id DESC LIMIT 1)"
    figures = ", ".join(["(SELECT count(*) FROM gone)", last.format("sent_at"), last.format("id"), *counted.values()])
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} SELECT {figures}", params)
        deleted, last_sent_at, last_id, *removed = cursor.fetchone()
    return deleted, (last_sent_at, last_id) if deleted else None, dict(zip(counted, removed, strict=True))


def delete_rows(ids: list[str]) -> dict:
    """Delete these Email Log rows and what depends on them, in a statement per relation whatever their
    number; returns {dependant model: rows deleted}.

    Django's cascade would first load every row; here each relation is handled by its own on_delete,
    read off the model, so a relation added later is not forgotten (an unknown kind is an error).
    """
    removed = {}
    for relation in dependant_relations():
        dependants = relation.related_model._base_manager.filter(**{f"{relation.field.attname}__in": ids})
        on_delete = _on_delete(relation)
        if on_delete is models.CASCADE:
            removed[relation.related_model] = dependants.delete()[0]
        elif on_delete is models.SET_NULL:
            dependants.update(**{relation.field.name: None})
    table = connection.ops.quote_name(EmailLogEntry._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE id IN ({', '.join(['%s'] * len(ids))})", ids)
    return removed
