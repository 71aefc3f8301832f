"""Events are recorded with their change and fanned out after it commits: one delivery per enabled subscribing
integration of the event's workspace, none for a change that rolled back."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from deliveries.fan_out import fan_out_batch
from deliveries.models import Delivery
from integrations.tests import services as svc
from workspaces.events import record_event, record_events
from workspaces.models import WorkspaceEvent

from .conftest import email_row

pytestmark = pytest.mark.django_db


def test_an_event_whose_change_rolls_back_leaves_no_event_and_no_delivery(receiver, workspace, mock, django_capture_on_commit_callbacks):
    receiver("WEBHOOK")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            record_event(workspace.pk, "email.sent", email_row())
            raise RuntimeError("the change failed after its event was written")
    assert callbacks == []
    assert not WorkspaceEvent.objects.exists()
    assert not Delivery.objects.exists()
    assert len(mock.calls) == 0


def test_a_committed_event_reaches_each_enabled_subscriber_once(receiver, workspace, record, mock):
    mock.add(responses_post := "POST", svc.WEBHOOK, status=200)
    mock.add(responses_post, svc.ZAPIER, status=200)
    webhook, platform = receiver("WEBHOOK"), receiver("WEBHOOK_PLATFORM")
    receiver("WEBHOOK", name="Switched off", enabled=False)
    receiver("CRM_PLATFORM")  # subscribes to email.sent only by default
    event = record(workspace, "email.failed", email_row(status="failed", error="Mailbox full"))
    deliveries = Delivery.objects.filter(event=event)
    assert sorted(deliveries.values_list("integration_id", flat=True)) == sorted([webhook.pk, platform.pk])
    assert set(deliveries.values_list("status", flat=True)) == {"delivered"}
    assert len(mock.calls) == 2


def test_a_subscriber_never_gets_another_workspaces_event(receiver, workspace, other_workspace, record, mock):
    mock.add("POST", svc.WEBHOOK, status=200)
    ours = receiver("WEBHOOK")
    receiver("WEBHOOK", in_workspace=other_workspace, config={"url": "https://hooks.globex.example/in"})
    record(workspace, "email.sent", email_row())
    assert list(Delivery.objects.values_list("integration_id", flat=True)) == [ours.pk]
    assert [call.request.url for call in mock.calls] == [svc.WEBHOOK]


def test_the_events_config_chooses_what_an_integration_receives(receiver, workspace, record, mock):
    mock.add("POST", svc.WEBHOOK, status=200)
    receiver("WEBHOOK", config={"events": "email.failed, integration.check_failed"})
    record(workspace, "email.sent", email_row())
    assert not Delivery.objects.exists()
    record(workspace, "email.failed", email_row(status="failed"))
    assert Delivery.objects.get().event_type == "email.failed"


def test_fanning_out_a_thousand_events_costs_the_same_statements_as_ten(receiver, workspace):
    receiver("WEBHOOK")
    receiver("WEBHOOK_PLATFORM")
    counts = {}
    for size in (10, 1000):
        with transaction.atomic():
            record_events([(workspace.pk, "email.sent", email_row(n)) for n in range(size)])
        with CaptureQueriesContext(connection) as queries:
            done = fan_out_batch(lambda tasks: None, limit=size)
        assert (done.events, done.deliveries) == (size, 2 * size)
        counts[size] = len(queries)
    # PostgreSQL: the same statements. SQLite splits an INSERT by its limit on parameters (~70 deliveries each).
    assert counts[1000] <= counts[10] + (0 if connection.vendor == "postgresql" else 40)
