"""The receivers accept only requests signed, recently, with the integration's own secret; anything else is
one 401 that writes nothing, and a signed body they cannot read is a 400 that writes nothing."""

import time

import pytest
from django.test import Client

from email_logs.models import EmailEvent, EmailLogEntry
from workspaces.models import Role

from .signing import (
    OTHER_RESEND_SECRET,
    RESEND_SECRET,
    SendGridSigner,
    as_body,
    resend_event,
    resend_headers,
    resend_signature,
    sendgrid_event,
)
from .webhook_helpers import everything_written, logged, post_webhook, webhook_path

pytestmark = pytest.mark.django_db

REFUSED = {"detail": "Invalid signature."}


def resend_bounce(row):
    return resend_event("email.bounced", row.message_id, bounce={"message": "550 5.1.1 mailbox unavailable", "type": "Permanent"})


# Provider A (Resend) -------------------------------------------------------------------------------


def test_a_validly_signed_resend_event_is_applied(client, hooked_a):
    row = logged(hooked_a, message_id="re-msg-1")
    body = resend_bounce(row)

    response = post_webhook(client, webhook_path(hooked_a), body, resend_headers(RESEND_SECRET, body, msg_id="msg_1"))

    assert response.status_code == 200
    assert response.json() == {"received": 1, "applied": 1, "duplicates": 0, "unmatched": 0}
    row.refresh_from_db()
    assert row.status == "failed"
    assert EmailEvent.objects.get().provider_event_id == "msg_1"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body: (body, resend_headers(OTHER_RESEND_SECRET, body)), id="the wrong secret"),
        pytest.param(lambda body: (body.replace(b"550", b"250"), resend_headers(RESEND_SECRET, body)), id="a tampered body"),
        # A minute past the 5-minute tolerance, not a second: a slow request must not bring it back inside.
        pytest.param(lambda body: (body, resend_headers(RESEND_SECRET, body, timestamp=int(time.time()) - 360)), id="a stale timestamp"),
        pytest.param(lambda body: (body, resend_headers(RESEND_SECRET, body, timestamp=int(time.time()) + 360)), id="a future timestamp"),
        pytest.param(lambda body: (body, {}), id="no signature headers"),
        pytest.param(
            lambda body: (body, {**resend_headers(RESEND_SECRET, body), "HTTP_SVIX_SIGNATURE": "v1,not base64!! v1"}), id="a garbled header"
        ),
        pytest.param(
            lambda body: (body, {**resend_headers(RESEND_SECRET, body), "HTTP_SVIX_ID": "msg_other"}), id="another event id than signed"
        ),
    ],
)
def test_a_resend_request_not_signed_now_with_our_secret_is_refused_and_writes_nothing(client, hooked_a, tamper):
    body = resend_bounce(logged(hooked_a, message_id="re-msg-1"))
    sent_body, headers = tamper(body)
    before = everything_written()

    response = post_webhook(client, webhook_path(hooked_a), sent_body, headers)

    assert (response.status_code, response.json()) == (401, REFUSED)
    assert everything_written() == before


@pytest.mark.parametrize(
    "others",
    [
        pytest.param(["v1,@@@", "v2,abc"], id="entries that are not base64 or not v1"),
        # Base64 characters that do not decode (a length that no padding fixes, or missing padding): the
        # library's strict decode raised on the first and never reached the valid entry after it.
        pytest.param(["v1,abc"], id="a mis-padded entry"),
        pytest.param(["v1,abcde", "v1,QUJD="], id="entries of an impossible length"),
        pytest.param(["v1,AAAA"], id="a well-formed wrong signature"),
    ],
)
def test_one_valid_signature_among_several_in_the_header_is_enough(client, hooked_a, others):
    body = resend_bounce(logged(hooked_a, message_id="re-msg-1"))
    stamp = int(time.time())
    rotated_out = resend_signature(OTHER_RESEND_SECRET, "msg_1", stamp, body)  # a secret being rotated out
    headers = resend_headers(RESEND_SECRET, body, msg_id="msg_1", timestamp=stamp, extra_signatures=[rotated_out, *others])

    response = post_webhook(client, webhook_path(hooked_a), body, headers)

    assert response.status_code == 200 and response.json()["applied"] == 1


def test_malformed_signature_entries_alone_are_a_401(client, hooked_a):
    body = resend_bounce(logged(hooked_a, message_id="re-msg-1"))
    headers = {**resend_headers(RESEND_SECRET, body), "HTTP_SVIX_SIGNATURE": "v1,abc v1,abcde v1, v1 ,v1"}
    before = everything_written()

    response = post_webhook(client, webhook_path(hooked_a), body, headers)

    assert (response.status_code, response.json()) == (401, REFUSED)
    assert everything_written() == before


def test_a_replayed_resend_event_id_is_a_duplicate_that_changes_nothing(client, hooked_a):
    row = logged(hooked_a, message_id="re-msg-1")
    first = resend_event("email.delivered", row.message_id)
    assert post_webhook(client, webhook_path(hooked_a), first, resend_headers(RESEND_SECRET, first, msg_id="msg_1")).status_code == 200
    before = everything_written()[:3]

    # The same event id again, freshly signed (a provider's retry), even with another body.
    again = resend_bounce(row)
    response = post_webhook(client, webhook_path(hooked_a), again, resend_headers(RESEND_SECRET, again, msg_id="msg_1"))

    assert response.json() == {"received": 1, "applied": 0, "duplicates": 1, "unmatched": 0}
    assert everything_written()[:3] == before


# Provider B (SendGrid) -----------------------------------------------------------------------------


def test_a_validly_signed_sendgrid_batch_is_applied(client, hooked_b, signer):
    row = logged(hooked_b, message_id="sg-msg-1")
    body = as_body([sendgrid_event("processed", "ev-1", message_id="sg-msg-1"), sendgrid_event("delivered", "ev-2", row_id=row.pk)])

    response = post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))

    assert response.status_code == 200
    assert response.json() == {"received": 2, "applied": 2, "duplicates": 0, "unmatched": 0}
    assert sorted(EmailEvent.objects.values_list("type", flat=True)) == ["accepted", "delivered"]


def _garbled(signer, body):
    return {**signer.headers(body), "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": "bm90IGEgc2lnbmF0dXJl"}


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda signer, body: (body, SendGridSigner().headers(body)), id="another key pair"),
        pytest.param(lambda signer, body: (body.replace(b"ada@", b"eve@"), signer.headers(body)), id="a tampered body"),
        pytest.param(lambda signer, body: (body, signer.headers(body, timestamp=int(time.time()) - 360)), id="a stale timestamp"),
        pytest.param(lambda signer, body: (body, {}), id="no signature headers"),
        pytest.param(lambda signer, body: (body, _garbled(signer, body)), id="a signature that is not DER"),
        pytest.param(
            lambda signer, body: (body, {**signer.headers(body), "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": str(int(time.time()) + 1)}),
            id="another timestamp than signed",
        ),
    ],
)
def test_a_sendgrid_request_not_signed_now_with_our_key_is_refused_and_writes_nothing(client, hooked_b, signer, tamper):
    body = as_body([sendgrid_event("bounce", "ev-1", message_id="sg-msg-1", type="bounce", reason="550 unknown user")])
    logged(hooked_b, message_id="sg-msg-1")
    sent_body, headers = tamper(signer, body)
    before = everything_written()

    response = post_webhook(client, webhook_path(hooked_b), sent_body, headers)

    assert (response.status_code, response.json()) == (401, REFUSED)
    assert everything_written() == before


def test_a_replayed_sendgrid_event_id_is_a_duplicate(client, hooked_b, signer):
    logged(hooked_b, message_id="sg-msg-1")
    body = as_body([sendgrid_event("delivered", "ev-1", message_id="sg-msg-1")])
    post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))

    response = post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))

    assert response.json() == {"received": 1, "applied": 0, "duplicates": 1, "unmatched": 0}
    assert EmailEvent.objects.count() == 1


# Which integration -----------------------------------------------------------------------------------


def test_an_unknown_integration_id_gets_the_same_401(client, hooked_a):
    body = resend_bounce(logged(hooked_a, message_id="re-msg-1"))

    response = post_webhook(client, webhook_path("c000000000000000000000000", "EMAIL_PROVIDER"), body, resend_headers(RESEND_SECRET, body))

    assert (response.status_code, response.json()) == (401, REFUSED)


def test_an_integration_of_the_other_provider_gets_the_same_401(client, hooked_a, hooked_b, signer):
    body = as_body([sendgrid_event("delivered", "ev-1", message_id="re-msg-1")])

    # A SendGrid-signed body posted to provider A's receiver with provider B's integration id, and the reverse.
    refused_b = post_webhook(client, webhook_path(hooked_b.pk, "EMAIL_PROVIDER"), body, signer.headers(body))
    refused_a = post_webhook(client, webhook_path(hooked_a.pk, "EMAIL_PROVIDER_ALT"), body, resend_headers(RESEND_SECRET, body))

    assert (refused_b.status_code, refused_b.json()) == (refused_a.status_code, refused_a.json()) == (401, REFUSED)


def test_an_integration_without_its_webhook_secret_refuses_everything(client, make_integration):
    integration = make_integration("EMAIL_PROVIDER")  # an apiKey, no webhookSigningSecret
    body = resend_bounce(logged(integration, message_id="re-msg-1"))
    before = everything_written()

    response = post_webhook(client, webhook_path(integration), body, resend_headers(RESEND_SECRET, body))

    assert (response.status_code, response.json()) == (401, REFUSED)
    assert everything_written() == before


def test_a_disabled_integration_still_receives_events_for_what_it_sent(client, hooked_a, admin_api):
    row = logged(hooked_a, message_id="re-msg-1")
    assert admin_api.patch(f"/api/integrations/{hooked_a.pk}", {"enabled": False}, format="json").status_code == 200
    body = resend_bounce(row)

    response = post_webhook(client, webhook_path(hooked_a), body, resend_headers(RESEND_SECRET, body))

    assert response.json()["applied"] == 1
    assert EmailLogEntry.objects.get(pk=row.pk).status == "failed"


def test_a_token_is_not_a_signature(hooked_a, api_as):
    body = resend_bounce(logged(hooked_a, message_id="re-msg-1"))

    response = api_as(Role.OWNER).post(webhook_path(hooked_a), body, content_type="application/json")

    assert (response.status_code, response.json()) == (401, REFUSED)


def test_the_receivers_need_no_csrf_token(hooked_a):
    body = resend_bounce(logged(hooked_a, message_id="re-msg-1"))

    response = post_webhook(Client(enforce_csrf_checks=True), webhook_path(hooked_a), body, resend_headers(RESEND_SECRET, body))

    assert response.status_code == 200


# Bodies ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[" * 100_000, b"[]", b'{"type": "email.bounced"}', b'{"type": "email.bounced", "data": {"email_id": 7}}',
     b'{"type": "email.bounced", "created_at": "yesterday", "data": {"email_id": "re-msg-1"}}',
     # Valid ISO-8601 whose UTC form is outside the years 1 to 9999: converting it overflowed (a 500).
     b'{"type": "email.bounced", "created_at": "0001-01-01T00:00:00+01:00", "data": {"email_id": "re-msg-1"}}',
     b'{"type": "email.delivered", "created_at": "9999-12-31T23:59:59-01:00", "data": {"email_id": "re-msg-1"}}'],
    ids=["not JSON", "nested too deep", "an array", "no data", "an email id that is no string", "no time",
         "a time before year 1 in UTC", "a time after year 9999 in UTC"],
)  # (A body that is not UTF-8 cannot be signed under Standard Webhooks, whose signature covers text: a 401.)
def test_a_signed_resend_body_we_cannot_read_is_a_400_that_writes_nothing(client, hooked_a, body):
    logged(hooked_a, message_id="re-msg-1")
    before = everything_written()

    response = post_webhook(client, webhook_path(hooked_a), body, resend_headers(RESEND_SECRET, body))

    assert response.status_code == 400 and response.json()["detail"]
    assert everything_written() == before


@pytest.mark.parametrize(
    "events",
    [
        b"\xff\xfe",
        {"event": "delivered"},
        [1, 2],
        [{"email": "ada@example.com", "timestamp": 1_795_000_000, "event": "delivered"}],
        [{"email": "ada@example.com", "timestamp": "noon", "event": "delivered", "sg_event_id": "ev-1"}],
        [{"email": "ada@example.com", "timestamp": 10**30, "event": "delivered", "sg_event_id": "ev-1"}],
        [{"email": "ada@example.com", "timestamp": 1_795_000_000, "event": "delivered", "sg_event_id": "e\u0000v"}],
        [{"timestamp": 1_795_000_000, "event": "delivered", "sg_event_id": "ev-1"}],
        [{"email": "ada@example.com", "timestamp": 1_795_000_000, "event": "delivered", "sg_event_id": "x" * 256}],
    ],
    ids=["not UTF-8", "an object", "no objects", "no event id", "a time that is no number", "a time out of range", "a NUL in the id",
         "no recipient", "an event id too long"],
)  # fmt: skip
def test_a_signed_sendgrid_body_we_cannot_read_is_a_400_that_writes_nothing(client, hooked_b, signer, events):
    logged(hooked_b, message_id="sg-msg-1")
    body = events if isinstance(events, bytes) else as_body(events)
    before = everything_written()

    response = post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))

    assert response.status_code == 400 and response.json()["detail"]
    assert everything_written() == before


def test_a_body_over_5_mib_is_a_413_whatever_its_signature(client, hooked_b, signer):
    body = as_body([sendgrid_event("open", f"ev-{i}", useragent="x" * 600) for i in range(8_000)])
    assert len(body) > 5 * 1024 * 1024

    response = post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))

    assert response.status_code == 413
    assert not EmailEvent.objects.exists()


def test_more_events_than_one_request_may_carry_is_a_413_that_writes_nothing(client, hooked_b, signer):
    body = as_body([sendgrid_event("open", f"e{i}") for i in range(10_001)])

    response = post_webhook(client, webhook_path(hooked_b), body, signer.headers(body))

    assert response.status_code == 413
    assert not EmailEvent.objects.exists()


@pytest.mark.parametrize(
    "timestamp",
    [
        pytest.param("9" * 400, id="a few hundred digits"),  # an int, but too large for a float: OverflowError
        pytest.param("-" + "9" * 400, id="a few hundred digits below zero"),
        pytest.param("9" * 5000, id="more digits than int() reads"),
        pytest.param("1e400", id="an exponent"),
    ],
)
def test_an_absurd_sendgrid_timestamp_is_the_same_401_before_any_signature_check(client, hooked_b, signer, timestamp):
    logged(hooked_b, message_id="sg-msg-1")
    body = as_body([sendgrid_event("delivered", "ev-1", message_id="sg-msg-1")])
    headers = {**signer.headers(body), "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp}
    before = everything_written()

    response = post_webhook(client, webhook_path(hooked_b), body, headers)

    assert (response.status_code, response.json()) == (401, REFUSED)
    assert everything_written() == before


def test_hostile_requests_never_get_a_5xx(client, hooked_a, hooked_b, signer):
    nasty = [
        (webhook_path("c" + "\u0000" * 24, "EMAIL_PROVIDER"), b"{}", {}),
        (webhook_path("x" * 5000, "EMAIL_PROVIDER_ALT"), b"[]", signer.headers(b"[]")),
        (webhook_path(hooked_a), b"{}", {"HTTP_SVIX_ID": "\u00e9", "HTTP_SVIX_TIMESTAMP": "nan", "HTTP_SVIX_SIGNATURE": "v1,,,"}),
        (webhook_path(hooked_a), b"{}", {"HTTP_SVIX_ID": "m", "HTTP_SVIX_TIMESTAMP": "9" * 400, "HTTP_SVIX_SIGNATURE": "v1,AAAA"}),
        (webhook_path(hooked_b), b"[]", {"HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": "9" * 5000}),
        (webhook_path(hooked_b), b"[]", {"HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": "9" * 400}),
        (webhook_path(hooked_a), b"{}", {"HTTP_SVIX_ID": "m", "HTTP_SVIX_TIMESTAMP": str(int(time.time())), "HTTP_SVIX_SIGNATURE": "v1,abc"}),
        (webhook_path(hooked_b), b"[]", {**signer.headers(b"[]"), "HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE": "\u00e9\u00e9"}),
    ]
    for path, body, headers in nasty:
        response = post_webhook(client, path, body, headers)
        assert response.status_code < 500, (path[:80], headers)
    assert client.get(webhook_path(hooked_a)).status_code == 405
