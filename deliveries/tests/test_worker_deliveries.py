"""What only real workers on PostgreSQL show: retries scheduled by `run_after` on the configured schedule, a
worker SIGKILLed mid-delivery (attempted again under the same webhook-id, none lost, none recorded delivered
twice), and an integration paused by 429s that leaves a healthy integration's delivery rate alone."""

import os
import signal
import time

import pytest
from django.db import transaction

from deliveries.models import Delivery
from integrations.services import create_integration
from workspaces.events import record_events

from .conftest import email_row
from .workers import Receiver, wait_for, worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLXdvcmtlci10ZXN0cw=="


@pytest.fixture(autouse=True)
def database_queue(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORKS = True


def webhook(workspace, receiver, path, name="Receiver"):
    return create_integration(workspace, name=name, type="WEBHOOK", config={"url": receiver.url + path}, credentials={"secret": SECRET})


def emit(workspace, count, start=0):
    with transaction.atomic():
        record_events([(workspace.pk, "email.sent", email_row(n)) for n in range(start, start + count)])


def test_a_worker_retries_500_500_200_on_the_schedule_under_one_webhook_id(workspace):
    receiver = Receiver(lambda path, n: ((500, {}) if n <= 2 else (200, {})))
    try:
        webhook(workspace, receiver, "/hook")
        with worker():
            emit(workspace, 1)
            wait_for(lambda: Delivery.objects.filter(status="delivered").exists(), 60, "the third attempt")
        (at1, id1), (at2, id2), (at3, id3) = receiver.to("/hook")
    finally:
        receiver.close()
    delivery = Delivery.objects.get()
    assert id1 == id2 == id3 == delivery.pk
    assert at2 - at1 >= 1.0 and at3 - at2 >= 2.0  # DELIVERY_RETRY_SCHEDULE=0,1,2
    assert (delivery.status, delivery.attempts, delivery.response) == ("delivered", 3, "200")


def test_a_worker_killed_mid_delivery_leaves_it_to_be_attempted_again_under_the_same_id(workspace):
    def answer(path, n):
        if n == 1:
            time.sleep(30)  # the first worker is killed while it waits for this answer
        return 200, {}

    receiver = Receiver(answer)
    try:
        webhook(workspace, receiver, "/hook")
        with worker() as doomed:
            emit(workspace, 1)
            wait_for(lambda: len(receiver.to("/hook")) == 1, 60, "the first attempt to reach the receiver")
            os.kill(doomed.pid, signal.SIGKILL)
            doomed.wait()
        assert Delivery.objects.get().status == "pending"
        with worker():  # its sweep finds the claim's lease over
            wait_for(lambda: Delivery.objects.filter(status="delivered").exists(), 60, "the delivery after the crash")
            time.sleep(2)  # a second sweep, which must find nothing to do
        calls = receiver.to("/hook")
    finally:
        receiver.close()
    delivery = Delivery.objects.get()
    assert {webhook_id for _, webhook_id in calls} == {delivery.pk} and len(calls) == 2
    assert (delivery.status, delivery.attempts) == ("delivered", 2)


def test_an_integration_paused_by_429s_leaves_a_healthy_ones_rate_alone(workspace):
    events = 30

    def answer(path, n):
        return (429, {"Retry-After": "1"}) if path == "/limited" else (200, {})

    def rate(calls) -> float:
        times = sorted(at for at, _ in calls)
        return (len(times) - 1) / (times[-1] - times[0])

    receiver = Receiver(answer)
    paced = {"DELIVERY_WEBHOOK_REQUESTS_PER_SECOND": "10"}  # each integration: 10 a second, shared by every worker
    try:
        webhook(workspace, receiver, "/alone", name="Alone")
        with worker(**paced):
            emit(workspace, events)
            wait_for(lambda: len(receiver.to("/alone")) == events, 60, "the healthy integration alone")
        alone = rate(receiver.to("/alone"))
        from integrations.models import Integration

        Integration.objects.update(enabled=False)
        webhook(workspace, receiver, "/limited", name="Limited")
        webhook(workspace, receiver, "/healthy", name="Healthy")
        with worker(**paced):
            emit(workspace, events, start=events)  # each event goes to both
            wait_for(lambda: len(receiver.to("/healthy")) == events, 60, "the healthy integration beside the limited one")
        beside = rate(receiver.to("/healthy"))
        limited_calls = len(receiver.to("/limited"))
    finally:
        receiver.close()
    assert limited_calls >= 1
    assert beside >= 0.8 * alone, f"healthy alone {alone:.1f}/s, beside a paused one {beside:.1f}/s"
