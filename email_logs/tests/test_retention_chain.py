"""The purge runs by itself on the workers: a task that enqueues its next run, kept to one live chain
(opbox.task_chain) however often it is started, by however many workers, across restarts."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from email_logs.lifecycle.entry_points import keep_purge_scheduled
from email_logs.models import EmailLogEntry
from email_logs.tasks import PURGE_CHAIN, purge_expired_email_logs
from email_logs.tests.factories import add_rows
from opbox.models import TaskChain
from tables.models import Table
from workspaces.services import set_email_log_retention

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def db_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def expired(workspace, site_provider_a):
    """Five rows of the workspace's Email Log sent 40 days ago, and one sent yesterday."""
    table = Table.objects.get(integration=site_provider_a)
    old = add_rows(table, 5, start=timezone.now() - timedelta(days=40))
    add_rows(table, 1)
    return old


def pending_purges():
    return list(DBTaskResult.objects.filter(task_path=purge_expired_email_logs.module_path, status="READY"))


def chain_token():
    return str(TaskChain.objects.get(name=PURGE_CHAIN).token)


def live_runs():
    """The enqueued runs holding the chain's token (others are stale copies that will stop at once)."""
    return [task for task in pending_purges() if task.args_kwargs["args"] == [chain_token()]]


def test_setting_a_period_starts_the_chain_and_a_worker_purges_and_schedules_the_next_run(
    db_backend, workspace, expired, settings
):
    assert pending_purges() == []  # nothing runs while every workspace keeps its rows forever

    set_email_log_retention(workspace, 30)
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")

    assert EmailLogEntry.objects.count() == 1
    (following,) = pending_purges()
    assert following.run_after > timezone.now() + timedelta(seconds=settings.EMAIL_LOG_PURGE_INTERVAL - 60)
    assert following.args_kwargs["args"] == [chain_token()]


def test_starting_it_again_and_again_keeps_one_chain(db_backend, workspace):
    set_email_log_retention(workspace, 30)
    for _ in range(3):
        keep_purge_scheduled()
    set_email_log_retention(workspace, 60)

    assert len(pending_purges()) == 1


def test_a_superseded_copy_neither_purges_nor_schedules(db_backend, workspace, expired):
    set_email_log_retention(workspace, 30)

    assert purge_expired_email_logs.call("the-token-of-an-older-chain") == {"ran": False}
    assert EmailLogEntry.objects.count() == 6 and len(pending_purges()) == 1


def test_a_lost_run_is_replaced_and_the_old_one_fenced_off(db_backend, workspace, expired, settings):
    set_email_log_retention(workspace, 30)
    lost_token = chain_token()
    DBTaskResult.objects.all().delete()  # the enqueued run vanished (a queue flushed, an enqueue lost)
    overdue = timezone.now() - timedelta(seconds=2 * settings.EMAIL_LOG_PURGE_INTERVAL)
    TaskChain.objects.update(next_run_at=overdue)

    keep_purge_scheduled()  # what a setting change, a deploy's migrate, the command or a worker's check does

    (replacement,) = pending_purges()
    assert replacement.args_kwargs["args"] == [chain_token()] != [lost_token]
    assert purge_expired_email_logs.call(lost_token) == {"ran": False}  # had the old run come back


def test_a_run_with_rows_left_hands_its_turn_straight_on(db_backend, workspace, expired, settings):
    settings.EMAIL_LOG_PURGE_BATCH_SIZE, settings.EMAIL_LOG_PURGE_RUN_SECONDS = 2, 0
    set_email_log_retention(workspace, 30)

    result = purge_expired_email_logs.call(chain_token())

    assert result == {"ran": True, "rows": 2, "events": 0, "documents": 0, "finished": False}
    (live,) = live_runs()
    assert live.run_after <= timezone.now()  # the interval's run is superseded


def test_the_chain_ends_when_no_workspace_keeps_a_period(db_backend, workspace, expired):
    set_email_log_retention(workspace, 30)
    set_email_log_retention(workspace, None)

    assert purge_expired_email_logs.call(chain_token()) == {"ran": False}
    assert not TaskChain.objects.filter(name=PURGE_CHAIN).exists() and EmailLogEntry.objects.count() == 6


@pytest.mark.postgres
def test_two_workers_running_the_same_run_purge_once(db_backend, workspace, expired):
    from opbox.tests.test_concurrency import race

    set_email_log_retention(workspace, 30)
    token = chain_token()

    results = race([lambda: purge_expired_email_logs.call(token)] * 2)

    assert sorted(result["ran"] for result in results) == [False, True]
    assert EmailLogEntry.objects.count() == 1 and len(live_runs()) == 1


def test_where_tasks_run_inline_there_is_no_chain_and_the_command_does_the_work(workspace, expired):
    set_email_log_retention(workspace, 30)  # TASKS_BACKEND=immediate, as on a SQLite first run

    assert keep_purge_scheduled() is None and not TaskChain.objects.exists()


def test_a_run_purges_expired_documents_with_their_files(db_backend, workspace, expired, make_integration, tmp_path, settings):
    from documents.models import Document
    from documents.tests.factories import add_document

    settings.STORAGES = {**settings.STORAGES, "documents": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                            "OPTIONS": {"location": str(tmp_path)}}}  # fmt: skip
    engine = make_integration("DOCUMENT_ENGINE", config={"baseUrl": "https://carbone.acme.example"}, credentials={"apiKey": "k-0123456789"})
    old, new = add_document(engine), add_document(engine)
    Document.objects.filter(pk=old.pk).update(generated_at=timezone.now() - timedelta(days=40))
    set_email_log_retention(workspace, 30)

    result = purge_expired_email_logs.call(chain_token())

    assert result["documents"] == 1
    assert list(Document.objects.values_list("pk", flat=True)) == [new.pk]
    assert not (tmp_path / old.storage_name).exists() and (tmp_path / new.storage_name).exists()
