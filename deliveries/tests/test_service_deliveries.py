"""Slack, HubSpot and Airtable deliveries (SPEC §15's table), against the services' documented shapes:
Slack's `200 {"ok": false}` and its 429 `ratelimited` with Retry-After; HubSpot's find-or-create contact (404
then create; a 409 naming the existing id) and the email engagement associated by type 198; Airtable's upsert on
"Email ID", 10 records at most a request, and the 30 s its 429 asks for."""

import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from deliveries.models import Delivery
from integrations.models import IntegrationPace
from integrations.tests import services as svc
from workspaces.events import record_events

from .conftest import email_row
from .test_webhook_delivery import attempt_again

pytestmark = pytest.mark.django_db

EMAIL_PAGE = "https://opbox.test/tables/ctable0000000000000000000/rows/cemail0000000000000000001/"
AIRTABLE_TABLE = f"{svc.AIRTABLE}/v0/appCANARYbase01/Email%20Log"


def slack_ok():
    return {"ok": True, "channel": "C0123ALERTS", "ts": "1733389200.000100", "message": {"text": "..."}}


# Slack ------------------------------------------------------------------------------------------------------


def test_a_failed_email_is_one_slack_message_with_a_sentence_and_its_link(receiver, workspace, record, mock):
    mock.add("POST", f"{svc.SLACK}/chat.postMessage", json=slack_ok())
    receiver("SLACK")
    record(workspace, "email.sent", email_row(2))  # not among Slack's default events
    record(workspace, "email.failed", email_row(status="failed", error="Mailbox full"))
    (call,) = mock.calls
    body = json.loads(call.request.body)
    assert body["channel"] == "C0123ALERTS"
    assert body["text"] == f"The email 'Engagement letter 1' to client@example.com failed: Mailbox full. {EMAIL_PAGE}"
    assert call.request.headers["Authorization"] == f"Bearer {svc.KEYS['slack']}"
    assert Delivery.objects.get().status == "delivered"


def test_slack_without_a_bot_token_posts_the_message_to_its_incoming_webhook(receiver, workspace, record, mock):
    mock.add("POST", svc.SLACK_HOOK, body="ok")
    receiver("SLACK", config={"channel": "", "webhookUrl": svc.SLACK_HOOK}, credentials={})
    record(workspace, "email.complained", email_row())
    assert json.loads(mock.calls[0].request.body) == {"text": f"The email 'Engagement letter 1' to client@example.com was marked as spam. {EMAIL_PAGE}"}


@pytest.mark.parametrize("code", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_slacks_ok_false_is_a_permanent_failure_with_its_error(code, receiver, workspace, record, mock):
    mock.add("POST", f"{svc.SLACK}/chat.postMessage", json={"ok": False, "error": code})
    receiver("SLACK")
    record(workspace, "email.failed", email_row(status="failed"))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response, delivery.next_attempt_at) == ("failed", code, None)
    assert code in delivery.error and svc.KEYS["slack"] not in delivery.error


def test_slacks_429_ratelimited_is_retried_after_its_retry_after_and_pauses_the_integration(receiver, workspace, record, mock):
    mock.add("POST", f"{svc.SLACK}/chat.postMessage", status=429, headers={"Retry-After": "40"}, json={"ok": False, "error": "ratelimited"})
    slack = receiver("SLACK")
    before = timezone.now()
    record(workspace, "email.failed", email_row(status="failed"))
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response) == ("pending", "ratelimited")
    assert delivery.next_attempt_at >= before + timedelta(seconds=40)
    assert IntegrationPace.objects.get(pk=slack.pk).paused_until >= before + timedelta(seconds=40)


# HubSpot ----------------------------------------------------------------------------------------------------


def hubspot_engagement(mock):
    mock.add("POST", f"{svc.HUBSPOT}/crm/v3/objects/emails", status=201, json={"id": "9001", "properties": {}, "createdAt": "2026-12-05T09:00:01Z"})


def test_a_sent_email_creates_the_missing_contact_then_logs_an_engagement_on_it(receiver, workspace, record, mock):
    mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/client@example.com", status=404,
             json={"status": "error", "message": "Object not found.  objectId are usually numeric.", "correlationId": "c1", "category": "OBJECT_NOT_FOUND"})  # fmt: skip
    mock.add("POST", f"{svc.HUBSPOT}/crm/v3/objects/contacts", status=201, json={"id": "501", "properties": {"email": "client@example.com"}})
    hubspot_engagement(mock)
    receiver("CRM_PLATFORM")
    record(workspace, "email.sent", email_row())
    lookup, create, engagement = (call.request for call in mock.calls)
    assert "idProperty=email" in lookup.url
    assert json.loads(create.body) == {"properties": {"email": "client@example.com"}}
    body = json.loads(engagement.body)
    assert body["properties"] | {"hs_email_text": ""} == {
        "hs_timestamp": "2026-12-05T09:00:00Z", "hs_email_direction": "EMAIL", "hs_email_status": "SENT",
        "hs_email_subject": "Engagement letter 1", "hs_email_text": "",
    }  # fmt: skip
    assert body["associations"] == [{"to": {"id": "501"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 198}]}]
    assert Delivery.objects.get().status == "delivered"


def test_a_409_on_create_carries_the_existing_contacts_id(receiver, workspace, record, mock):
    mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/client@example.com", status=404,
             json={"status": "error", "message": "Object not found.", "category": "OBJECT_NOT_FOUND"})  # fmt: skip
    mock.add("POST", f"{svc.HUBSPOT}/crm/v3/objects/contacts", status=409,
             json={"status": "error", "message": "Contact already exists. Existing ID: 123", "correlationId": "c2", "category": "CONFLICT"})  # fmt: skip
    hubspot_engagement(mock)
    receiver("CRM_PLATFORM")
    record(workspace, "email.sent", email_row())
    assert json.loads(mock.calls[2].request.body)["associations"][0]["to"] == {"id": "123"}


def test_one_engagement_is_logged_on_every_to_recipients_contact(receiver, workspace, record, mock):
    for n, address in enumerate(("a@example.com", "b@example.com")):
        mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/{address}", json={"id": f"70{n}", "properties": {"email": address}})
    hubspot_engagement(mock)
    receiver("CRM_PLATFORM")
    record(workspace, "email.sent", email_row(to="a@example.com, B <b@example.com>"))
    engagements = [json.loads(c.request.body) for c in mock.calls if c.request.url.endswith("/objects/emails")]
    assert [[a["to"]["id"] for a in e["associations"]] for e in engagements] == [["700", "701"]]


def test_a_rate_limit_halfway_through_the_contacts_logs_the_email_once_on_the_retry(receiver, workspace, record, mock):
    mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/a@example.com", json={"id": "700", "properties": {}})
    mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/b@example.com", status=429, headers={"Retry-After": "1"},
             json={"status": "error", "message": "You have reached your secondly limit.", "category": "RATE_LIMITS"})  # fmt: skip
    mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/b@example.com", json={"id": "701", "properties": {}})
    hubspot_engagement(mock)
    receiver("CRM_PLATFORM")
    record(workspace, "email.sent", email_row(to="a@example.com, b@example.com"))
    delivery = Delivery.objects.get()
    assert delivery.status == "pending"

    attempt_again(delivery, later=None)

    engagements = [json.loads(c.request.body) for c in mock.calls if c.request.url.endswith("/objects/emails")]
    assert [[a["to"]["id"] for a in e["associations"]] for e in engagements] == [["700", "701"]]
    assert Delivery.objects.get().status == "delivered"


def test_a_hubspot_contact_answered_without_an_id_fails_the_delivery_saying_so(receiver, workspace, record, mock):
    mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/client@example.com", json={"properties": {}})
    receiver("CRM_PLATFORM")

    record(workspace, "email.sent", email_row())

    delivery = Delivery.objects.get()
    assert delivery.status == "failed" and "a contact without an id" in delivery.error


def test_a_hubspot_400_is_permanent_with_its_reason(receiver, workspace, record, mock):
    mock.add("GET", f"{svc.HUBSPOT}/crm/v3/objects/contacts/client@example.com", json={"id": "501", "properties": {}})
    mock.add("POST", f"{svc.HUBSPOT}/crm/v3/objects/emails", status=400,
             json={"status": "error", "message": "Property values were not valid: hs_timestamp", "category": "VALIDATION_ERROR"})  # fmt: skip
    receiver("CRM_PLATFORM")
    record(workspace, "email.sent", email_row())
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.response) == ("failed", "VALIDATION_ERROR")
    assert "Property values were not valid" in delivery.error


# Airtable ---------------------------------------------------------------------------------------------------


def test_airtable_upserts_on_email_id_never_more_than_10_records_a_request(receiver, workspace, mock, django_capture_on_commit_callbacks, settings):
    settings.DELIVERY_EXTERNAL_DATABASE_REQUESTS_PER_SECOND = None  # pacing has its own tests
    mock.add("PATCH", AIRTABLE_TABLE, json={"records": [], "createdRecords": [], "updatedRecords": []})
    receiver("EXTERNAL_DATABASE")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        record_events([(workspace.pk, "email.sent", email_row(n)) for n in range(25)])
    bodies = [json.loads(call.request.body) for call in mock.calls]
    assert [len(body["records"]) for body in bodies] == [10, 10, 5]
    assert all(body["performUpsert"] == {"fieldsToMergeOn": ["Email ID"]} and body["typecast"] is True for body in bodies)
    fields = {record["fields"]["Email ID"]: record["fields"] for body in bodies for record in body["records"]}
    assert len(fields) == 25
    assert fields["cemail0000000000000000000"] == {
        "Email ID": "cemail0000000000000000000", "Sent At": "2026-12-05T09:00:00Z", "To": "client@example.com",
        "Subject": "Engagement letter 0", "Status": "delivered", "Provider": "email-provider-a", "Message ID": "re_msg_0",
        "Source": "Workflow Email",
    }  # fmt: skip
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert mock.calls[0].request.headers["Authorization"] == f"Bearer {svc.KEYS['airtable']}"


def test_airtables_429_waits_30_seconds(receiver, workspace, record, mock):
    mock.add("PATCH", AIRTABLE_TABLE, status=429, json={"errors": [{"error": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}]})
    airtable = receiver("EXTERNAL_DATABASE")
    before = timezone.now()
    record(workspace, "email.failed", email_row(status="failed"))
    delivery = Delivery.objects.get()
    assert delivery.status == "pending" and delivery.next_attempt_at >= before + timedelta(seconds=30)
    assert IntegrationPace.objects.get(pk=airtable.pk).paused_until >= before + timedelta(seconds=30)
