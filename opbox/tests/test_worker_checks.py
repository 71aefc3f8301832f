"""opbox.task_chain.WorkerCheck: how every app keeps its chain alive from the worker processes."""

from datetime import timedelta

import pytest
from django.db import DatabaseError
from django_tasks import task

from opbox import task_chain


@task()
def a_link(token: str) -> None:
    pass




@pytest.fixture
def deferring(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def checker(keep, every=timedelta(minutes=10)):
    return task_chain.WorkerCheck(a_link, keep, every=every, chain="a-chain")


def test_the_first_task_checks_then_one_per_interval(deferring):
    calls = []
    check = checker(lambda: calls.append(1))

    check()  # the process's first task
    check()  # a moment later: too soon
    check.checked_at -= timedelta(minutes=10).total_seconds() + 1  # as if ten minutes had passed
    check()

    assert len(calls) == 2


def test_nothing_where_the_task_cannot_be_deferred():  # the test settings run tasks inline
    calls = []
    check = checker(lambda: calls.append(1))

    check()

    assert calls == [] and check.checked_at is None


def test_a_database_error_is_logged_not_raised(deferring, caplog):
    def broken():
        raise DatabaseError("the database went away")

    check = checker(broken)

    check()  # must not fail the task that triggered it

    assert "Could not check the task chain a-chain" in caplog.text
