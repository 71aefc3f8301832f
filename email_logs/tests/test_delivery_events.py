"""Signed events change the right rows: stored once each, matched to the emails the integration sent, the
row's Status and Error following SPEC §9 whatever the order, and bounces and complaints suppressing."""

import json
import random

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext

from email_logs.models import EmailEvent, EmailLogEntry, EventType, Suppression
from integrations.providers import EVENT_TYPES

from .conftest import PROVIDER_B
from .signing import RESEND_SECRET, as_body, resend_event, resend_headers, sendgrid_event
from .webhook_helpers import everything_written, logged, post_webhook, webhook_path

pytestmark = pytest.mark.django_db

UNKNOWN_USER = "550 5.1.1 mailbox unavailable"


@pytest.fixture
def post_b(client, hooked_b, signer):
    def post(events):
        body = as_body(events)
        response = post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))
        assert response.status_code == 200, response.content
        return response.json()

    return post


@pytest.fixture
def post_a(client, hooked_a):
    def post(body, msg_id):
        response = post_webhook(client, webhook_path(hooked_a), body, resend_headers(RESEND_SECRET, body, msg_id=msg_id))
        assert response.status_code == 200, response.content
        return response.json()

    return post


def bounce(event_id, email, **fields):
    return sendgrid_event("bounce", event_id, email=email, **{"type": "bounce", "reason": UNKNOWN_USER, **fields})


def status_and_error(row):
    row.refresh_from_db()
    return row.status, row.error


# Storing and matching --------------------------------------------------------------------------------


def test_a_batch_with_every_event_three_times_out_of_order_stores_each_once_and_ends_right(hooked_b, post_b):
    delivered = logged(hooked_b, to="ada@example.com", message_id="sg-1")
    bounced = logged(hooked_b, to="bob@example.com, cy@example.com", message_id="sg-2")
    unique = [
        sendgrid_event("processed", "e1", email="ada@example.com", row_id=delivered.pk, timestamp=100),
        sendgrid_event("delivered", "e2", email="ada@example.com", row_id=delivered.pk, timestamp=110),
        sendgrid_event("open", "e3", email="ada@example.com", row_id=delivered.pk, timestamp=120),
        sendgrid_event("processed", "e4", email="bob@example.com", row_id=bounced.pk, timestamp=100),
        bounce("e5", "bob@example.com", row_id=bounced.pk, timestamp=110),
        sendgrid_event("dropped", "e6", email="cy@example.com", reason="Bounced Address", row_id=bounced.pk, timestamp=111),
        sendgrid_event("delivered", "e7", email="bob@example.com", row_id=bounced.pk, timestamp=130),  # late, contradicting
    ]
    batch = unique * 3
    random.Random(12).shuffle(batch)

    counts = post_b(batch)

    assert counts == {"received": 21, "applied": 7, "duplicates": 14, "unmatched": 0}
    assert sorted(EmailEvent.objects.values_list("provider_event_id", flat=True)) == [f"e{i}" for i in range(1, 8)]
    assert status_and_error(delivered) == ("delivered", "")
    assert status_and_error(bounced) == (
        "failed",
        f"Bounced: bob@example.com - {UNKNOWN_USER} (type: bounce); Dropped: cy@example.com - Bounced Address",
    )
    timeline = list(EmailEvent.objects.filter(entry=bounced).values_list("type", "recipient"))
    assert timeline == [("accepted", "bob@example.com"), ("bounced", "bob@example.com"), ("dropped", "cy@example.com"),
                        ("delivered", "bob@example.com")]  # fmt: skip


def test_events_match_by_our_row_id_first_then_by_the_message_id_before_its_first_dot(hooked_b, post_b):
    by_id = logged(hooked_b, message_id="sg-1")
    by_message = logged(hooked_b, message_id="sg-2")

    counts = post_b([
        sendgrid_event("delivered", "e1", row_id=by_id.pk, message_id="sg-2"),  # the custom arg wins
        sendgrid_event("open", "e2", message_id="sg-2"),  # no custom arg (an email sent before them)
    ])  # fmt: skip

    assert counts["applied"] == 2
    assert list(EmailEvent.objects.order_by("provider_event_id").values_list("entry_id", flat=True)) == [by_id.pk, by_message.pk]


def test_events_about_emails_this_integration_did_not_send_are_counted_not_stored(hooked_b, post_b, make_integration, other_workspace):
    ours = logged(hooked_b, message_id="sg-1")
    theirs = logged(make_integration("EMAIL_PROVIDER_ALT", in_workspace=other_workspace), message_id="sg-theirs")
    before = everything_written()[:3]

    counts = post_b([
        sendgrid_event("delivered", "e1", message_id="sg-unknown"),
        bounce("e2", "ada@example.com", message_id="sg-theirs"),
        bounce("e3", "ada@example.com", row_id=theirs.pk),  # another workspace's row id cannot reach its row
        sendgrid_event("group_resubscribe", "e4", message_id="sg-1"),  # a type we do not keep
    ])  # fmt: skip

    assert counts == {"received": 4, "applied": 0, "duplicates": 0, "unmatched": 3}
    assert everything_written()[:3] == before
    assert status_and_error(theirs) == ("delivered", "") and status_and_error(ours) == ("delivered", "")


def test_another_workspaces_integration_cannot_touch_our_rows(client, hooked_a, make_integration, other_workspace):
    ours = logged(hooked_a, message_id="re-shared")
    theirs = make_integration(
        "EMAIL_PROVIDER", in_workspace=other_workspace, credentials={"apiKey": "re_x_1234567890ab", "webhookSigningSecret": RESEND_SECRET}
    )
    body = resend_event("email.bounced", "re-shared", bounce={"message": UNKNOWN_USER, "type": "Permanent"})

    # Their receiver, correctly signed with their secret, naming our email's message id.
    response = post_webhook(client, webhook_path(theirs), body, resend_headers(RESEND_SECRET, body))

    assert response.json() == {"received": 1, "applied": 0, "duplicates": 0, "unmatched": 1}
    assert status_and_error(ours) == ("delivered", "")
    assert not Suppression.objects.exists()


def test_a_verified_request_records_when_the_last_event_came(hooked_b, post_b, admin_api):
    assert admin_api.get(f"/api/integrations/{hooked_b.pk}").json()["lastEventAt"] is None

    post_b([sendgrid_event("delivered", "e1", message_id="sg-unknown")])

    assert admin_api.get(f"/api/integrations/{hooked_b.pk}").json()["lastEventAt"].endswith("Z")


def test_every_sendgrid_send_carries_its_row_id_and_its_events_find_the_row_by_it(
    member_api, hooked_b, post_b, django_capture_on_commit_callbacks
):
    with responses.RequestsMock() as provider:
        provider.add(responses.POST, f"{PROVIDER_B}/v3/mail/send", status=202, headers={"X-Message-Id": "sg-accepted-1"})
        with django_capture_on_commit_callbacks(execute=True):
            sent = member_api.post("/api/emails", {"to": "ada@example.com", "subject": "Hi", "text": "Hello",
                                                   "integrationId": hooked_b.pk}, format="json")  # fmt: skip
        payload = json.loads(provider.calls[0].request.body)
    row = EmailLogEntry.objects.get()
    assert sent.status_code == 202 and row.status == "delivered"
    assert payload["custom_args"] == {"opbox_email_id": row.pk}

    # SendGrid echoes the custom arg as a top-level key of each event; the message id here is of no use.
    post_b([bounce("e1", "ada@example.com", row_id=row.pk, message_id="unrelated")])

    assert status_and_error(row)[0] == "failed"


# Status rules ------------------------------------------------------------------------------------------


def test_every_recipient_bouncing_fails_the_row_with_the_reason(hooked_b, post_b):
    row = logged(hooked_b, to="ada@example.com", cc="Bob@Example.com", message_id="sg-1")

    post_b([bounce("e1", "ada@example.com", row_id=row.pk), bounce("e2", "bob@example.com", row_id=row.pk)])

    assert status_and_error(row) == (
        "failed",
        f"Bounced: ada@example.com - {UNKNOWN_USER} (type: bounce); Bounced: bob@example.com - {UNKNOWN_USER} (type: bounce)",
    )


def test_some_recipients_bouncing_keeps_the_row_delivered_and_names_them(hooked_b, post_b):
    row = logged(hooked_b, to="ada@example.com, bob@example.com", bcc="audit@acme.example", message_id="sg-1")

    post_b([bounce("e1", "bob@example.com", row_id=row.pk), sendgrid_event("delivered", "e2", email="ada@example.com", row_id=row.pk)])

    assert status_and_error(row) == ("delivered", f"Bounced: bob@example.com - {UNKNOWN_USER} (type: bounce)")


def test_the_last_recipient_failing_later_fails_the_row(hooked_b, post_b):
    row = logged(hooked_b, to="ada@example.com, bob@example.com", message_id="sg-1")
    post_b([bounce("e1", "bob@example.com", row_id=row.pk)])

    post_b([sendgrid_event("dropped", "e2", email="ada@example.com", reason="Invalid", row_id=row.pk)])

    assert status_and_error(row) == ("failed", f"Bounced: bob@example.com - {UNKNOWN_USER} (type: bounce); Dropped: ada@example.com - Invalid")


def test_a_late_delivered_never_turns_a_failed_row_back(hooked_b, post_b):
    row = logged(hooked_b, message_id="sg-1")
    post_b([bounce("e1", "ada@example.com", row_id=row.pk, timestamp=200)])
    failed = status_and_error(row)

    post_b([sendgrid_event("delivered", "e0", row_id=row.pk, timestamp=100), sendgrid_event("delivered", "e2", row_id=row.pk, timestamp=300)])
    after_delivered = status_and_error(row)
    post_b([sendgrid_event("dropped", "e3", row_id=row.pk, reason="Bounced Address")])

    assert failed[0] == "failed" and after_delivered == failed and status_and_error(row) == failed
    assert EmailEvent.objects.filter(entry=row).count() == 4  # the timeline keeps everything


def test_a_row_failed_at_send_keeps_its_error(hooked_b, post_b):
    row = logged(hooked_b, message_id="sg-1", status="failed", error="SendGrid refused the request (HTTP 400).")

    post_b([bounce("e1", "ada@example.com", row_id=row.pk)])

    assert status_and_error(row) == ("failed", "SendGrid refused the request (HTTP 400).")


def test_the_error_keeps_what_sending_said_and_adds_the_bounce(hooked_b, post_b):
    note = "Not sent to suppressed recipients: old@example.com"
    row = logged(hooked_b, to="ada@example.com, bob@example.com", message_id="sg-1", error=note)

    post_b([bounce("e1", "bob@example.com", row_id=row.pk)])
    post_b([bounce("e2", "bob@example.com", row_id=row.pk, reason="550 again")])  # the same recipient again: named once

    assert status_and_error(row) == ("delivered", f"{note}; Bounced: bob@example.com - {UNKNOWN_USER} (type: bounce)")


def test_a_resend_bounce_counts_for_the_whole_email(hooked_a, post_a):
    row = logged(hooked_a, to="ada@example.com, bob@example.com", message_id="re-1")
    body = resend_event("email.bounced", "re-1", to=["ada@example.com", "bob@example.com"],
                        bounce={"message": UNKNOWN_USER, "type": "Permanent", "subType": "General"})  # fmt: skip

    assert post_a(body, "msg_1")["applied"] == 1

    assert status_and_error(row) == ("failed", f"Bounced: ada@example.com, bob@example.com - {UNKNOWN_USER} (Permanent, General)")
    assert EmailEvent.objects.get().recipient == ""  # about the email, not one recipient


@pytest.mark.parametrize(
    "kind, normalised",
    [("email.sent", "accepted"), ("email.delivered", "delivered"), ("email.delivery_delayed", "deferred"),
     ("email.opened", "opened"), ("email.clicked", "clicked"), ("email.complained", "complained")],
)  # fmt: skip
def test_resend_events_that_are_no_failure_leave_the_row_delivered(hooked_a, post_a, kind, normalised):
    row = logged(hooked_a, message_id="re-1")

    post_a(resend_event(kind, "re-1"), "msg_1")

    assert EmailEvent.objects.get().type == normalised
    assert status_and_error(row) == ("delivered", "")


@pytest.mark.parametrize("kind, detail", [("email.failed", {"failed": {"reason": "reached_daily_quota"}}),
                                          ("email.suppressed", {"suppressed": {"message": "on the suppression list"}})])
def test_a_resend_failure_or_suppression_drops_the_email(hooked_a, post_a, kind, detail):
    row = logged(hooked_a, message_id="re-1")

    post_a(resend_event(kind, "re-1", **detail), "msg_1")

    status, error = status_and_error(row)
    assert status == "failed" and error.startswith("Dropped: ada@example.com - ")


def test_the_providers_normalise_onto_the_event_types_the_model_stores():
    assert set(EVENT_TYPES) == set(EventType.values)


def test_an_event_type_we_do_not_keep_is_received_not_stored(hooked_a, post_a):
    logged(hooked_a, message_id="re-1")

    assert post_a(resend_event("email.scheduled", "re-1"), "msg_1") == {"received": 1, "applied": 0, "duplicates": 0, "unmatched": 0}
    assert not EmailEvent.objects.exists()


# Suppressions --------------------------------------------------------------------------------------------


def test_permanent_bounces_and_complaints_suppress_but_blocks_do_not(hooked_b, post_b, workspace):
    row = logged(hooked_b, to="ada@example.com, bob@example.com, cy@example.com", message_id="sg-1")

    post_b([
        bounce("e1", "Ada@Example.com", row_id=row.pk),
        sendgrid_event("bounce", "e2", email="bob@example.com", type="blocked", reason="421 try later", row_id=row.pk),
        sendgrid_event("spamreport", "e3", email="cy@example.com", row_id=row.pk),
    ])  # fmt: skip

    suppressed = set(Suppression.objects.filter(workspace=workspace).values_list("address", "reason", "entry_id"))
    assert suppressed == {("ada@example.com", "bounced", row.pk), ("cy@example.com", "complained", row.pk)}


def test_a_resend_permanent_bounce_suppresses_its_recipients_and_a_transient_one_does_not(hooked_a, post_a):
    logged(hooked_a, message_id="re-1")
    logged(hooked_a, to="bob@example.com", message_id="re-2")

    post_a(resend_event("email.bounced", "re-1", bounce={"message": "gone", "type": "Permanent"}), "msg_1")
    post_a(resend_event("email.bounced", "re-2", to=["bob@example.com"], bounce={"message": "full", "type": "Transient"}), "msg_2")
    post_a(resend_event("email.complained", "re-2", to=["bob@example.com"]), "msg_3")

    assert set(Suppression.objects.values_list("address", "reason")) == {("ada@example.com", "bounced"), ("bob@example.com", "complained")}


def test_a_replayed_complaint_does_not_suppress_again_after_an_admin_removed_it(hooked_b, post_b, admin_api):
    row = logged(hooked_b, message_id="sg-1")
    complaint = [sendgrid_event("spamreport", "e1", row_id=row.pk)]
    post_b(complaint)
    assert admin_api.delete("/api/suppressions/ada@example.com").status_code == 204

    post_b(complaint)

    assert not Suppression.objects.exists()


# Cost ------------------------------------------------------------------------------------------------------


def _batch(rows, size, start):
    events = []
    for i in range(size):
        row = rows[i % len(rows)]
        kind = ("processed", "delivered", "open", "bounce")[i % 4]
        extra = {"type": "bounce", "reason": UNKNOWN_USER} if kind == "bounce" else {}
        events.append(sendgrid_event(kind, f"ev-{start + i}", email=f"r{i}@example.com", row_id=row.pk if i % 2 else "",
                                     message_id=row.message_id, **extra))  # fmt: skip
    return events + events[: size // 3]  # and some repeated


def test_a_batch_costs_the_same_number_of_statements_whatever_its_size(client, hooked_b, signer):
    rows = [logged(hooked_b, to=f"r{i}@example.com", message_id=f"sg-{i}") for i in range(400)]
    statements = []
    for size, start in ((12, 0), (400, 1000)):
        body = as_body(_batch(rows, size, start))
        with CaptureQueriesContext(connection) as queries:
            response = post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))
        assert response.status_code == 200 and response.json()["applied"] == size
        statements.append(len(queries))

    assert statements[0] == statements[1]
    assert EmailLogEntry.objects.filter(status="failed").count() == 100  # every fourth row bounced (its one recipient)
