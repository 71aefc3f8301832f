"""Provider A (Resend): every template page, timestamps, the send payload and its Idempotency-Key.

Only the network is mocked (`responses`); no database and no Django settings are needed.
"""

import base64
import json
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from integrations.providers import (
    Attachment,
    OutboundMessage,
    ProviderBadResponse,
    ProviderQuotaExceeded,
    ProviderRejected,
    ProviderUnavailable,
    ResendClient,
)

BASE = "https://provider-a.test"
KEY = "re_test_0123456789abcdef"


@pytest.fixture
def client():
    return ResendClient(KEY, base_url=BASE + "/", timeout=7.5)


def page(templates, has_more):
    return {"object": "list", "has_more": has_more, "data": templates}


def template(id, created_at="2026-01-10 09:00:00.000+00", name=None):
    return {"id": id, "name": name or f"Template {id}", "created_at": created_at, "status": "published"}


def message(**overrides):
    fields = {"from_email": "noreply@acme.example", "from_name": "Acme Legal", "to": ["a@client.example"], "cc": [], "bcc": [],
              "subject": "Your documents", "html": "<p>Hi</p>", "text": "Hi"}  # fmt: skip
    return OutboundMessage(**(fields | overrides))


def sent_json(mock, index=0):
    return json.loads(mock.calls[index].request.body)


# Templates ---------------------------------------------------------------------------------------


def test_every_page_is_fetched_with_the_last_id_as_cursor(mock, client):
    mock.add(responses.GET, f"{BASE}/templates", json=page([template("t1"), template("t2")], True),
             match=[matchers.query_param_matcher({"limit": "100"})])
    mock.add(responses.GET, f"{BASE}/templates", json=page([template("t3")], True),
             match=[matchers.query_param_matcher({"limit": "100", "after": "t2"})])
    mock.add(responses.GET, f"{BASE}/templates", json=page([template("t4")], False),
             match=[matchers.query_param_matcher({"limit": "100", "after": "t3"})])

    templates = client.list_templates()

    assert [t.id for t in templates] == ["t1", "t2", "t3", "t4"]
    assert templates[0].name == "Template t1"
    assert len(mock.calls) == 3
    assert all(call.request.req_kwargs["timeout"] == 7.5 for call in mock.calls)
    assert all(call.request.headers["Authorization"] == f"Bearer {KEY}" for call in mock.calls)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2026-01-10 09:00:00.000+00", datetime(2026, 1, 10, 9, 0, tzinfo=UTC)),
        ("2026-01-10 09:00:00.250+00", datetime(2026, 1, 10, 9, 0, 0, 250000, tzinfo=UTC)),
        ("2026-01-10T09:00:00Z", datetime(2026, 1, 10, 9, 0, tzinfo=UTC)),
        ("2026-01-10T09:00:00.678Z", datetime(2026, 1, 10, 9, 0, 0, 678000, tzinfo=UTC)),
        ("2026-01-10T09:00:00+00:00", datetime(2026, 1, 10, 9, 0, tzinfo=UTC)),
        ("2026-01-10T10:30:00+01:30", datetime(2026, 1, 10, 9, 0, tzinfo=UTC)),
    ],
)
def test_created_at_becomes_an_aware_utc_datetime(mock, client, raw, expected):
    mock.add(responses.GET, f"{BASE}/templates", json=page([template("t1", created_at=raw)], False))

    (listed,) = client.list_templates()

    assert listed.created_at == expected
    assert listed.created_at.utcoffset().total_seconds() == 0


def test_an_unreadable_created_at_is_a_bad_response(mock, client):
    mock.add(responses.GET, f"{BASE}/templates", json=page([template("t1", created_at="last tuesday")], False))

    with pytest.raises(ProviderBadResponse, match="created_at"):
        client.list_templates()


def test_a_page_without_data_is_a_bad_response(mock, client):
    mock.add(responses.GET, f"{BASE}/templates", json={"object": "list", "has_more": False})

    with pytest.raises(ProviderBadResponse):
        client.list_templates()


def test_has_more_with_an_empty_page_stops_with_a_bad_response_instead_of_looping(mock, client):
    mock.add(responses.GET, f"{BASE}/templates", json=page([], True))

    with pytest.raises(ProviderBadResponse):
        client.list_templates()


def test_a_cursor_that_repeats_stops_with_a_bad_response_instead_of_looping(mock, client):
    mock.add(responses.GET, f"{BASE}/templates", json=page([template("t1")], True))

    with pytest.raises(ProviderBadResponse):
        client.list_templates()

    assert len(mock.calls) == 2


# Sending -----------------------------------------------------------------------------------------


def test_send_posts_the_message_and_returns_resends_id(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"})

    message_id = client.send(
        message(cc=["c@client.example"], bcc=["b@acme.example", "audit@acme.example"]), idempotency_key="email-1"
    )

    assert message_id == "4ef9a417-02e9-4d39-ad75-9611e0fcc33c"
    assert sent_json(mock) == {
        "from": "Acme Legal <noreply@acme.example>",
        "to": ["a@client.example"],
        "cc": ["c@client.example"],
        "bcc": ["b@acme.example", "audit@acme.example"],
        "subject": "Your documents",
        "html": "<p>Hi</p>",
        "text": "Hi",
    }
    request = mock.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Idempotency-Key"] == "email-1"
    assert request.req_kwargs["timeout"] == 7.5


def test_empty_cc_bcc_and_body_parts_are_left_out(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m1"})

    client.send(message(html="", text="Plain only"), idempotency_key="email-1")

    assert sent_json(mock) == {
        "from": "Acme Legal <noreply@acme.example>",
        "to": ["a@client.example"],
        "subject": "Your documents",
        "text": "Plain only",
    }


@pytest.mark.parametrize(
    "from_name, expected",
    [
        ("", "noreply@acme.example"),
        ("Acme", "Acme <noreply@acme.example>"),
        ("Smith, Jones & Co.", '"Smith, Jones & Co." <noreply@acme.example>'),
        ('The "Best" Firm', '"The \\"Best\\" Firm" <noreply@acme.example>'),
        ("Acme\r\nBcc: evil@x.example", '"Acme Bcc: evil@x.example" <noreply@acme.example>'),
    ],
)
def test_from_carries_the_name_when_one_is_set(mock, client, from_name, expected):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m1"})

    client.send(message(from_name=from_name), idempotency_key="email-1")

    assert sent_json(mock)["from"] == expected


def test_a_template_is_sent_by_id_with_its_variables_instead_of_html_and_text(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m1"})

    client.send(
        message(template_id="order-confirmation", template_data={"PRODUCT": "Vintage Macintosh", "PRICE": 499}),
        idempotency_key="email-1",
    )

    body = sent_json(mock)
    assert body["template"] == {"id": "order-confirmation", "variables": {"PRODUCT": "Vintage Macintosh", "PRICE": 499}}
    assert "html" not in body and "text" not in body


def test_a_template_without_data_sends_no_variables(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m1"})

    client.send(message(template_id="welcome", subject=""), idempotency_key="email-1")

    body = sent_json(mock)
    assert body["template"] == {"id": "welcome"}
    assert "subject" not in body  # the template's own subject applies


def test_attachments_are_sent_base64_encoded_with_their_content_type(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m1"})
    pdf = b"%PDF-1.7\x00\xff binary"

    client.send(message(attachments=[Attachment("contract.pdf", "application/pdf", pdf)]), idempotency_key="email-1")

    (attachment,) = sent_json(mock)["attachments"]
    assert attachment == {"filename": "contract.pdf", "content": base64.b64encode(pdf).decode(), "content_type": "application/pdf"}
    assert base64.b64decode(attachment["content"]) == pdf


def test_the_same_idempotency_key_is_sent_identically_on_every_attempt(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", status=500, json={"statusCode": 500, "name": "internal_server_error", "message": "x"})
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m1"})

    with pytest.raises(ProviderUnavailable):
        client.send(message(), idempotency_key="outbox/c0a1b2c3")
    client.send(message(), idempotency_key="outbox/c0a1b2c3")

    keys = [call.request.headers["Idempotency-Key"] for call in mock.calls]
    assert keys == ["outbox/c0a1b2c3", "outbox/c0a1b2c3"]
    assert mock.calls[0].request.body == mock.calls[1].request.body


def test_sending_without_an_idempotency_key_is_refused_before_any_request(mock, client):
    with pytest.raises(ValueError):
        client.send(message(), idempotency_key="")

    assert not mock.calls


def test_an_answer_without_an_id_is_a_bad_response(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"object": "email"})

    with pytest.raises(ProviderBadResponse) as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False


# Resend's own error names -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["daily_quota_exceeded", "monthly_quota_exceeded"])
def test_a_quota_429_is_not_retryable(mock, client, name):
    mock.add(responses.POST, f"{BASE}/emails", status=429, headers={"Retry-After": "3600"},
             json={"statusCode": 429, "name": name, "message": "You have reached your quota."})

    with pytest.raises(ProviderQuotaExceeded) as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False
    assert caught.value.status_code == 429
    assert "quota" in str(caught.value)


def test_a_403_for_an_unverified_domain_is_a_rejection_not_a_bad_key(mock, client):
    text = "The acme.example domain is not verified. Please, add and verify your domain."
    mock.add(responses.POST, f"{BASE}/emails", status=403, json={"statusCode": 403, "name": "validation_error", "message": text})

    with pytest.raises(ProviderRejected, match="not verified") as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False


def test_a_concurrent_request_with_the_same_key_is_retryable(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", status=409, json={
        "statusCode": 409, "name": "concurrent_idempotent_requests",
        "message": "Same idempotency key used while original request is still in progress.",
    })  # fmt: skip

    with pytest.raises(ProviderUnavailable) as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is True


def test_the_same_key_with_a_different_payload_is_a_rejection(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", status=409, json={
        "statusCode": 409, "name": "invalid_idempotent_request",
        "message": "Same idempotency key used with a different request payload.",
    })  # fmt: skip

    with pytest.raises(ProviderRejected, match="different request payload") as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False


# Our row id travels with every email as a tag, and comes back in its events ------------------------


ROW_ID = "c0mz1x2y3w4v5u6t7s8r9q0p1"


def test_every_send_carries_its_row_id_as_the_opbox_email_id_tag(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m1"})

    client.send(message(reference=ROW_ID), idempotency_key="email-1")

    assert sent_json(mock)["tags"] == [{"name": "opbox_email_id", "value": ROW_ID}]


def test_every_email_of_a_batch_carries_its_own_row_id_tag(mock, client):
    mock.add(responses.POST, f"{BASE}/emails/batch", json={"data": [{"id": "m1"}, {"id": "m2"}]})

    client.send_batch([message(reference="c-first"), message(reference="c-second")], idempotency_key="batch-1")

    assert [email["tags"] for email in sent_json(mock)] == [
        [{"name": "opbox_email_id", "value": "c-first"}],
        [{"name": "opbox_email_id", "value": "c-second"}],
    ]


def webhook_body(tags):
    data = {"email_id": "re-1", "to": ["a@client.example"], "bounce": {"message": "gone", "type": "Permanent"}}
    return json.dumps({"type": "email.bounced", "created_at": "2026-11-25T10:00:00.000Z", "data": data | tags}).encode()


@pytest.mark.parametrize(
    "tags",
    [
        {"tags": [{"name": "category", "value": "x"}, {"name": "opbox_email_id", "value": ROW_ID}]},  # Resend's documented array
        {"tags": {"category": "x", "opbox_email_id": ROW_ID}},  # the object form its SDK types
    ],
    ids=["array", "object"],
)
def test_an_event_names_our_row_by_its_tag(tags):
    (event,) = ResendClient.parse_webhook({"svix-id": "msg_1"}, webhook_body(tags)).events

    assert (event.email_id, event.message_id) == (ROW_ID, "re-1")


@pytest.mark.parametrize("tags", [{}, {"tags": None}, {"tags": "opbox_email_id"}, {"tags": [{"name": "opbox_email_id"}, 7]},
                                  {"tags": {"opbox_email_id": 42}}])  # fmt: skip
def test_an_event_without_a_usable_tag_is_matched_by_its_message_id_alone(tags):
    (event,) = ResendClient.parse_webhook({"svix-id": "msg_1"}, webhook_body(tags)).events

    assert (event.email_id, event.message_id) == ("", "re-1")


# A message id longer than the Email Log keeps (255 characters) ------------------------------------


def test_a_message_id_longer_than_the_log_keeps_is_a_bad_response_not_retried(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m" * 256})

    with pytest.raises(ProviderBadResponse, match="message id") as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False


def test_a_batch_answer_with_an_overlong_message_id_is_a_bad_response(mock, client):
    mock.add(responses.POST, f"{BASE}/emails/batch", json={"data": [{"id": "m1"}, {"id": "m" * 256}]})

    with pytest.raises(ProviderBadResponse):
        client.send_batch([message(), message()], idempotency_key="batch-1")


def test_a_message_id_of_255_characters_is_taken(mock, client):
    mock.add(responses.POST, f"{BASE}/emails", json={"id": "m" * 255})

    assert client.send(message(), idempotency_key="email-1") == "m" * 255
