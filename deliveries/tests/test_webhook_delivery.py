"""WEBHOOK and WEBHOOK_PLATFORM deliveries: signed per Standard Webhooks (verified with the official verifier),
the same webhook-id on every attempt, retries on the configured schedule, a 410 that disables the integration
(audited), and a timeout that is retried."""

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from standardwebhooks import Webhook

from deliveries import attempts
from deliveries.models import Delivery
from integrations.models import Integration, IntegrationAuditEvent
from integrations.tests import services as svc

from .conftest import email_row

pytestmark = pytest.mark.django_db


class Later:
    """Stands in for the task queue's `run_after`: what was scheduled, and when."""

    def __init__(self):
        self.calls = []

    def __call__(self, when, integration_id, ids, reserved=False):
        self.calls.append((when, integration_id, list(ids)))


def attempt_again(delivery, later):
    """The retry's task running once its time has come."""
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    return attempts.attempt(delivery.integration_id, [delivery.pk], later=later)


def test_a_delivered_body_verifies_with_the_official_standardwebhooks_verifier(receiver, workspace, record, mock):
    mock.add("POST", svc.WEBHOOK, status=204)
    receiver("WEBHOOK")
    event = record(workspace, "email.sent", email_row())
    request = mock.calls[0].request
    payload = Webhook(svc.KEYS["webhook"]).verify(request.body, dict(request.headers))
    delivery = Delivery.objects.get()
    assert request.headers["webhook-id"] == delivery.pk
    assert payload == {"type": "email.sent", "timestamp": payload["timestamp"], "data": event.data}
    assert (delivery.status, delivery.attempts, delivery.response) == ("delivered", 1, "204")


def test_a_body_signed_with_another_secret_does_not_verify(receiver, workspace, record, mock):
    from standardwebhooks.webhooks import WebhookVerificationError

    mock.add("POST", svc.WEBHOOK, status=200)
    receiver("WEBHOOK")
    record(workspace, "email.sent", email_row())
    request = mock.calls[0].request
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "b3RoZXItc2VjcmV0LW9mLWFub3RoZXItZW5kcG9pbnQ=").verify(request.body, dict(request.headers))


def test_500_500_200_is_three_attempts_on_the_schedule_under_one_webhook_id(receiver, workspace, record, mock, settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 5, 300]
    for status in (500, 500, 200):
        mock.add("POST", svc.WEBHOOK, status=status)
    receiver("WEBHOOK")
    record(workspace, "email.sent", email_row())
    delivery, later = Delivery.objects.get(), Later()
    first_due = delivery.next_attempt_at - delivery.updated_at
    assert (delivery.status, delivery.attempts, delivery.response) == ("pending", 1, "500")
    assert first_due == timedelta(seconds=5)
    assert attempt_again(delivery, later) == "retry"
    delivery.refresh_from_db()
    assert delivery.next_attempt_at - delivery.updated_at == timedelta(seconds=300)
    assert [when for when, _, _ in later.calls] == [delivery.next_attempt_at]  # its task, by run_after
    assert attempt_again(delivery, later) == "delivered"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response, delivery.error) == ("delivered", 3, "200", "")
    ids = {call.request.headers["webhook-id"] for call in mock.calls}
    assert ids == {delivery.pk} and len(mock.calls) == 3
    for call in mock.calls:  # each attempt is signed afresh, and verifies
        Webhook(svc.KEYS["webhook"]).verify(call.request.body, dict(call.request.headers))


def test_the_schedule_spent_fails_the_delivery_saying_so(receiver, workspace, record, mock, settings):
    settings.DELIVERY_RETRY_SCHEDULE = [0, 5]
    mock.add("POST", svc.WEBHOOK, status=503, body="down for maintenance")
    receiver("WEBHOOK")
    record(workspace, "email.sent", email_row())
    delivery = Delivery.objects.get()
    assert attempt_again(delivery, Later()) == "retry"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 2, None)
    assert delivery.error.startswith("Gave up after 2 attempts: ") and "down for maintenance" in delivery.error


def test_a_stored_secret_that_cannot_sign_fails_the_delivery_saying_so(receiver, workspace, record, mock):
    webhook = receiver("WEBHOOK")
    webhook.credentials = {"secret": "whsec_"}  # stored before the secret was validated on write
    webhook.save()

    record(workspace, "email.sent", email_row())

    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and "cannot sign" in delivery.error
    assert not mock.calls


def test_a_410_fails_the_delivery_and_disables_the_integration_audited(receiver, workspace, record, mock):
    mock.add("POST", svc.WEBHOOK, status=410, body="gone")
    webhook = receiver("WEBHOOK")
    record(workspace, "email.sent", email_row())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response) == ("failed", "410")
    webhook.refresh_from_db()
    assert webhook.enabled is False and "410" in webhook.last_check_detail
    audit = IntegrationAuditEvent.objects.filter(integration_id=webhook.pk).first()
    assert (audit.action, audit.changes, audit.actor) == ("updated", ["enabled"], None)
    # A disabled integration gets nothing more.
    record(workspace, "email.sent", email_row(2))
    assert Delivery.objects.count() == 1 and len(mock.calls) == 1


def test_a_webhook_refusal_other_than_410_is_retried(receiver, workspace, record, mock):
    mock.add("POST", svc.WEBHOOK, status=400, body="bad")
    receiver("WEBHOOK")
    record(workspace, "email.sent", email_row())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response) == ("pending", "400")  # SPEC §15: any non-2xx but 410, for webhooks


def test_a_timeout_is_retried(receiver, workspace, record, mock):
    mock.add("POST", svc.WEBHOOK, body=requests.ReadTimeout("read timed out"))
    mock.add("POST", svc.WEBHOOK, status=200)
    receiver("WEBHOOK")
    record(workspace, "email.sent", email_row())
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and "did not answer within 15 s" in delivery.error
    assert attempt_again(delivery, Later()) == "delivered"
    assert mock.calls[0].request.headers["webhook-id"] == mock.calls[1].request.headers["webhook-id"] == delivery.pk


def test_the_platform_gets_the_same_body_unsigned(receiver, workspace, record, mock):
    mock.add("POST", svc.ZAPIER, status=200, json={"status": "success"})
    receiver("WEBHOOK_PLATFORM")
    event = record(workspace, "email.failed", email_row(status="failed"))
    request = mock.calls[0].request
    assert "webhook-signature" not in request.headers
    assert json.loads(request.body)["data"] == event.data and json.loads(request.body)["type"] == "email.failed"


def test_a_disabled_integration_gets_nothing(receiver, workspace, record, mock):
    webhook = receiver("WEBHOOK")
    Integration.objects.filter(pk=webhook.pk).update(enabled=False)
    record(workspace, "email.sent", email_row())
    assert not Delivery.objects.exists() and len(mock.calls) == 0
