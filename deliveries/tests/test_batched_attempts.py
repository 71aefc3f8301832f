"""An unpaced integration's task attempts a run of deliveries, one call each. On a worker, a failure stops the
run (the failed one is retried on the schedule) and so does the task's time budget; the deliveries not tried go
back to the queue untried, their attempts not counted."""

import pytest
from django.db import transaction

from deliveries import attempts, services
from deliveries.fan_out import fan_out_batch
from deliveries.models import Delivery
from integrations.tests import services as svc
from workspaces.events import record_events

from .conftest import email_row
from .test_webhook_delivery import Later

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_of_five(receiver, workspace):
    """Five email.sent deliveries to one webhook, fanned out as one task (not run: this test runs it)."""
    receiver("WEBHOOK")
    with transaction.atomic():
        record_events([(workspace.pk, "email.sent", email_row(n)) for n in range(5)])
    tasks = []
    fan_out_batch(tasks.extend)
    ((integration_id, ids),) = tasks
    return integration_id, ids


def by_email():
    return {d.email_id[-1]: (d.status, d.attempts) for d in Delivery.objects.all()}


def test_a_failure_stops_the_run_and_hands_the_rest_back_untried(run_of_five, mock):
    for status in (200, 200, 500):
        mock.add("POST", svc.WEBHOOK, status=status)
    later = Later()
    assert attempts.attempt(*run_of_five, later=later) == "delivered"
    assert by_email() == {"0": ("delivered", 1), "1": ("delivered", 1), "2": ("pending", 1), "3": ("pending", 0), "4": ("pending", 0)}
    untried = [ids for when, _, ids in later.calls if when is None]
    assert len(mock.calls) == 3 and sorted(untried[0]) == sorted(Delivery.objects.filter(attempts=0).values_list("pk", flat=True))


def test_an_unexpected_error_keeps_what_was_delivered_before_it_and_retries_the_rest(run_of_five, mock, caplog):
    calls, canary = [], "CANARY-" + "text-of-an-unexpected-error"

    def endpoint(request):
        calls.append(request)
        if len(calls) == 3:
            raise KeyError(canary)  # a bug below the connector, or storage failing
        return (204, {}, b"")

    mock.add_callback("POST", svc.WEBHOOK, callback=endpoint)
    later = Later()

    attempts.attempt(*run_of_five, later=later)

    assert by_email() == {
        "0": ("delivered", 1),
        "1": ("delivered", 1),
        "2": ("pending", 1),
        "3": ("pending", 0),
        "4": ("pending", 0),
    }
    failed = Delivery.objects.get(email_id__endswith="2")
    assert "KeyError" in failed.error and failed.claim == "" and failed.next_attempt_at is not None
    assert "KeyError" in caplog.text and "CANARY" not in caplog.text + failed.error  # its text may hold anything


def test_redeliver_is_refused_while_an_attempt_holds_the_delivery_and_the_run_records_every_outcome(run_of_five, mock):
    refusals = []

    def endpoint(request):
        if not refusals:  # an admin presses Redeliver on a delivery this run holds
            held = Delivery.objects.get(email_id__endswith="4")
            try:
                services.redeliver(held)
            except services.DeliveryInProgress as error:
                refusals.append(error.detail)
            return (204, {}, b"")
        return (500, {}, b"")

    mock.add_callback("POST", svc.WEBHOOK, callback=endpoint)

    attempts.attempt(*run_of_five, later=Later())

    assert refusals and "in progress" in refusals[0]
    assert by_email() == {
        "0": ("delivered", 1),
        "1": ("pending", 1),
        "2": ("pending", 0),
        "3": ("pending", 0),
        "4": ("pending", 0),
    }
    assert list(Delivery.objects.values_list("round_attempts", flat=True).order_by("email_id")) == [1, 1, 0, 0, 0]


def test_a_run_past_its_time_budget_hands_the_rest_back(run_of_five, mock, monkeypatch):
    monkeypatch.setattr(attempts, "TASK_TIME_BUDGET", 0.0)
    mock.add("POST", svc.WEBHOOK, status=200)
    later = Later()
    attempts.attempt(*run_of_five, later=later)
    assert sorted(status for status, _ in by_email().values()) == ["delivered", "pending", "pending", "pending", "pending"]
    assert [(when, len(ids)) for when, _, ids in later.calls] == [(None, 4)]
