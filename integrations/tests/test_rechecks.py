"""The periodic re-check (SPEC §13): every enabled integration checked again every INTEGRATION_CHECK_INTERVAL_HOURS
by a self-scheduling task on the workers, paced, except those whose check posts something; a pass turning into a
failure records `integration.check_failed`."""

from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from integrations.models import Integration, IntegrationPace
from integrations.rechecks import recheck_due
from integrations.services import create_integration
from integrations.tasks import RECHECK_CHAIN, keep_recheck_scheduled, recheck_integrations
from opbox.models import TaskChain
from workspaces.models import WorkspaceEvent

from . import services as svc


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def make(workspace, type_name, name=None, config=None, credentials=None, **kwargs):
    default_config, default_credentials = svc.VALUES[type_name]
    return create_integration(workspace, name=name or type_name, type=type_name, config=default_config if config is None else config,
                              credentials=default_credentials if credentials is None else credentials, **kwargs)  # fmt: skip


def checked(integration):
    return Integration.objects.get(pk=integration.pk).last_checked_at is not None


@pytest.mark.django_db
def test_due_integrations_are_checked_but_never_those_whose_check_posts(workspace, mock):
    crm, drive = make(workspace, "CRM_PLATFORM"), make(workspace, "CLOUD_STORAGE")
    slack_bot = make(workspace, "SLACK", name="Slack bot")
    hook, platform = make(workspace, "WEBHOOK"), make(workspace, "WEBHOOK_PLATFORM")
    slack_hook = make(workspace, "SLACK", name="Slack hook", config={"webhookUrl": svc.SLACK_HOOK}, credentials={})
    disabled = make(workspace, "CRM_PLATFORM", name="Off", enabled=False)
    for type_name in ("CRM_PLATFORM", "CLOUD_STORAGE", "SLACK"):
        svc.good(type_name, mock)

    report = recheck_due()

    assert (report.checked, report.failed) == (3, 0)
    assert [checked(i) for i in (crm, drive, slack_bot)] == [True, True, True]
    assert [checked(i) for i in (hook, platform, slack_hook, disabled)] == [False] * 4
    posted = [call.request.url for call in mock.calls if call.request.method == "POST" and "auth.test" not in call.request.url]
    assert posted == []  # no test event, no test message


@pytest.mark.django_db
def test_only_integrations_whose_interval_has_passed_are_due(workspace, mock, settings):
    settings.INTEGRATION_CHECK_INTERVAL_HOURS = 24
    fresh, stale = make(workspace, "CRM_PLATFORM", name="Fresh"), make(workspace, "CRM_PLATFORM", name="Stale")
    Integration.objects.filter(pk=fresh.pk).update(last_checked_at=timezone.now() - timedelta(hours=23), last_check_ok=True)
    Integration.objects.filter(pk=stale.pk).update(last_checked_at=timezone.now() - timedelta(hours=25), last_check_ok=True)
    svc.hubspot_details(mock, portal=99887766)

    report = recheck_due()

    assert report.checked == 1
    assert Integration.objects.get(pk=fresh.pk).last_check_ok is True
    assert Integration.objects.get(pk=stale.pk).last_check_ok is False
    (event,) = WorkspaceEvent.objects.all()  # the stale one turned from passing to failing
    assert (event.type, event.data["id"]) == ("integration.check_failed", stale.pk)


@pytest.mark.django_db
def test_an_interval_of_zero_turns_rechecks_off(workspace, mock, settings):
    settings.INTEGRATION_CHECK_INTERVAL_HOURS = 0
    crm = make(workspace, "CRM_PLATFORM")

    assert recheck_due().checked == 0 and not checked(crm) and not mock.calls


@pytest.mark.django_db
def test_rechecks_take_their_integrations_turn(workspace, mock, settings):
    settings.DELIVERY_CRM_PLATFORM_REQUESTS_PER_SECOND = 10
    crm = make(workspace, "CRM_PLATFORM")
    svc.hubspot_details(mock)

    recheck_due()

    assert IntegrationPace.objects.get(pk=crm.pk).last_call_at is not None


@pytest.mark.django_db
def test_a_paused_integration_waits_for_the_next_run(workspace, mock):
    from integrations.pacing import pause

    crm = make(workspace, "CRM_PLATFORM")
    pause(crm.pk, 600)  # a 429 told every worker to hold off

    report = recheck_due()

    assert (report.checked, report.skipped) == (0, 1) and not mock.calls and not checked(crm)


@pytest.fixture
def db_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def pending_rechecks():
    return list(DBTaskResult.objects.filter(task_path=recheck_integrations.module_path, status="READY"))


@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_chain_which_schedules_its_next_run(db_backend, workspace, mock):
    crm = make(workspace, "CRM_PLATFORM")
    svc.hubspot_details(mock)

    keep_recheck_scheduled()
    keep_recheck_scheduled()  # however often it is asked: one chain
    (first,) = pending_rechecks()
    assert first.run_after > timezone.now() + timedelta(minutes=4)  # a deploy settles first
    DBTaskResult.objects.filter(pk=first.pk).update(run_after=timezone.now())
    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")

    assert checked(crm)
    (following,) = pending_rechecks()
    assert following.args_kwargs["args"] == [str(TaskChain.objects.get(name=RECHECK_CHAIN).token)]
    assert following.run_after > timezone.now() + timedelta(minutes=55)


@pytest.mark.django_db(transaction=True)
def test_turning_rechecks_off_ends_the_chain(db_backend, workspace, settings):
    keep_recheck_scheduled()
    settings.INTEGRATION_CHECK_INTERVAL_HOURS = 0
    DBTaskResult.objects.filter(task_path=recheck_integrations.module_path).update(run_after=timezone.now())

    call_command("db_worker", "--batch", "--interval", "0", "--no-startup-delay")

    assert pending_rechecks() == [] and not TaskChain.objects.filter(name=RECHECK_CHAIN).exists()
    assert keep_recheck_scheduled() is None


@pytest.mark.django_db
def test_the_command_checks_what_is_due(workspace, mock, capsys):
    make(workspace, "CRM_PLATFORM")
    svc.hubspot_details(mock)

    call_command("check_integrations")

    assert "Checked 1 integration(s): 0 failed" in capsys.readouterr().out
