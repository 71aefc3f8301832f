"""Enqueueing many runs of one task at once.

On the django-tasks-db backend each enqueue is an INSERT; a send of a thousand emails enqueues ten tasks, and
its cost must not grow with them (SPEC §8): `enqueue_each` writes every task row in one statement there.
"""

import json
from datetime import datetime

from django.db import transaction
from django_tasks.signals import task_enqueued
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult, get_date_max


def commits_with_transaction(task) -> bool:
    """Whether enqueueing `task` writes a row in the current transaction (the database backend), so that a task
    enqueued with the rows it works on commits, or rolls back, with them."""
    return isinstance(task.get_backend(), DatabaseBackend)


def _with_transaction(task, enqueue) -> None:
    """Run `enqueue` (which enqueues `task`) as part of the current transaction: within it on the database
    backend, after its commit elsewhere (a Redis queue's worker could otherwise run the task before its rows
    exist, and inline it would run on rows not committed yet). A rollback enqueues nothing."""
    if commits_with_transaction(task):
        enqueue()
    else:
        transaction.on_commit(enqueue)


def enqueue_with_transaction(task, *arguments, run_after: datetime | None = None, **keywords) -> None:
    """Enqueue `task(*arguments, **keywords)` as part of the current transaction (see `_with_transaction`)."""
    queued = task.using(run_after=run_after) if run_after else task
    _with_transaction(task, lambda: queued.enqueue(*arguments, **keywords))


def enqueue_each_with_transaction(task, argument_lists) -> None:
    """`enqueue_each` as part of the current transaction (see `_with_transaction`)."""
    argument_lists = list(argument_lists)
    _with_transaction(task, lambda: enqueue_each(task, argument_lists))


def enqueue_each(task, argument_lists) -> None:
    """Enqueue `task(*arguments)` for each of `argument_lists`: one INSERT for all on the database backend
    (its rows as its own enqueue writes them), one enqueue each elsewhere."""
    argument_lists = [list(arguments) for arguments in argument_lists]
    if not isinstance(task.get_backend(), DatabaseBackend):
        for arguments in argument_lists:
            task.enqueue(*arguments)
        return
    rows = DBTaskResult.objects.bulk_create(task_rows(task, argument_lists))
    announce(task, rows)


def task_rows(task, argument_lists) -> list[DBTaskResult]:
    """The database backend's rows for `task(*arguments)` of each of `argument_lists`, not saved yet: for a
    caller that writes them with other rows (then `announce` them)."""
    backend = task.get_backend()
    backend.validate_task(task)
    return [
        DBTaskResult(
            args_kwargs=json.loads(json.dumps({"args": list(arguments), "kwargs": {}})),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            run_after=task.run_after or get_date_max(),  # what the backend's pre_save does; bulk_create has none
            backend_name=backend.alias,
        )
        for arguments in argument_lists
    ]


def announce(task, rows: list[DBTaskResult]) -> None:
    """Send the backend's `task_enqueued` signal for rows written by a bulk insert, as its enqueue would."""
    for row in rows:
        task_enqueued.send(type(task.get_backend()), task_result=row.task_result)


def is_waiting(task) -> bool:
    """Whether a run of `task` waits in the database queue, not started yet (always False on other backends).

    A caller that needs one run after its commit may skip enqueueing when one waits: it starts after the commit
    and so sees what the caller wrote."""
    if not isinstance(task.get_backend(), DatabaseBackend):
        return False
    return DBTaskResult.objects.ready().filter(task_path=task.module_path).exists()
