"""On a task backend outside the database (Redis's), an attempt's task is sent once the rows it works on have
committed: sent inside the transaction, a worker could run it first, find nothing due, and leave the delivery
to the sweep minutes later. On the database backend the task's row commits with them (its own tests)."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from deliveries import services, tasks
from deliveries.models import Delivery
from workspaces.events import record_event

from .conftest import email_row

pytestmark = pytest.mark.django_db

WORKER_OUTSIDE_THE_DATABASE = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}  # defers, as rq does


def queued(task) -> list:
    return [result.args for result in task.get_backend().results if result.task.name == task.name]


@pytest.fixture
def worker_backend(settings):
    settings.TASKS = WORKER_OUTSIDE_THE_DATABASE


def fanned_out(workspace, django_capture_on_commit_callbacks) -> Delivery:
    """The one delivery of an email.sent event recorded and fanned out, both committed."""
    with django_capture_on_commit_callbacks(execute=True):
        record_event(workspace.pk, "email.sent", email_row())
        tasks.fan_out_events.call()
    return Delivery.objects.get()


def test_the_fan_out_sends_its_attempts_once_the_deliveries_are_committed(
    worker_backend, receiver, workspace, django_capture_on_commit_callbacks
):
    receiver("WEBHOOK")
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        record_event(workspace.pk, "email.sent", email_row())
        tasks.fan_out_events.call()
        assert Delivery.objects.count() == 1 and queued(tasks.deliver_events) == []

    for callback in callbacks:
        callback()
    assert queued(tasks.deliver_events) == [[Delivery.objects.get().integration_id, [Delivery.objects.get().pk]]]


def test_redeliver_sends_its_attempt_once_the_reset_is_committed(
    worker_backend, receiver, workspace, django_capture_on_commit_callbacks
):
    webhook = receiver("WEBHOOK")
    delivery = fanned_out(workspace, django_capture_on_commit_callbacks)
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", next_attempt_at=None)
    before = len(queued(tasks.deliver_events))

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        services.redeliver(delivery)
        assert len(queued(tasks.deliver_events)) == before

    for callback in callbacks:
        callback()
    assert queued(tasks.deliver_events)[before:] == [[webhook.pk, [delivery.pk]]]


def test_a_retry_is_sent_once_the_failed_attempt_is_recorded(
    worker_backend, receiver, workspace, mock, django_capture_on_commit_callbacks
):
    mock.add("POST", "https://hooks.acme.example/opbox", status=500)
    webhook = receiver("WEBHOOK", config={"url": "https://hooks.acme.example/opbox"})
    delivery = fanned_out(workspace, django_capture_on_commit_callbacks)
    before = len(queued(tasks.deliver_events))

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        tasks.deliver_events.call(webhook.pk, [delivery.pk])
        assert len(queued(tasks.deliver_events)) == before

    for callback in callbacks:
        callback()
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at > timezone.now()
    assert [args[:2] for args in queued(tasks.deliver_events)[before:]] == [[webhook.pk, [delivery.pk]]]


def test_the_sweep_sends_its_attempts_once_their_reset_is_committed(
    worker_backend, receiver, workspace, django_capture_on_commit_callbacks
):
    webhook = receiver("WEBHOOK")
    delivery = fanned_out(workspace, django_capture_on_commit_callbacks)
    Delivery.objects.filter(pk=delivery.pk).update(claim="dead", claimed_until=timezone.now() - timedelta(seconds=1))
    before = len(queued(tasks.deliver_events))

    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        assert tasks.sweep_now()["deliveries"] == 1
        assert len(queued(tasks.deliver_events)) == before  # a worker would still see the dead claim

    for callback in callbacks:
        callback()
    assert queued(tasks.deliver_events)[before:] == [[webhook.pk, [delivery.pk]]]
