"""Provider B (SendGrid v3): dynamic templates on every page, the mail/send payload, and X-Message-Id.

Only the network is mocked (`responses`); no database and no Django settings are needed.
"""

import base64
import json
import time
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers

from integrations.providers import (
    Attachment,
    OutboundMessage,
    ProviderBadResponse,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    SendGridClient,
)

BASE = "https://provider-b.test"
KEY = "SG.test_0123456789abcdef"
FIRST_PAGE = {"generations": "dynamic", "page_size": "200"}


@pytest.fixture
def client():
    return SendGridClient(KEY, base_url=BASE, timeout=4.0)


def template(id, updated_at="2026-01-10 09:00:00", generation="dynamic"):
    return {"id": id, "name": f"Template {id}", "generation": generation, "updated_at": updated_at, "versions": []}


def page(templates, next_link=None):
    metadata = {"self": f"{BASE}/v3/templates", "count": len(templates)}
    if next_link:
        metadata["next"] = next_link
    return {"result": templates, "_metadata": metadata}


def message(**overrides):
    fields = {"from_email": "noreply@acme.example", "from_name": "Acme Legal", "to": ["a@client.example"], "cc": [], "bcc": [],
              "subject": "Your documents", "html": "<p>Hi</p>", "text": "Hi"}  # fmt: skip
    return OutboundMessage(**(fields | overrides))


def accepts(mock, message_id="14c5d75ce93.dfd.64b469.filter0001"):
    mock.add(responses.POST, f"{BASE}/v3/mail/send", status=202, body="", headers={"X-Message-Id": message_id})


def sent_json(mock, index=0):
    return json.loads(mock.calls[index].request.body)


# Templates ---------------------------------------------------------------------------------------


def test_dynamic_templates_are_asked_for_and_every_next_link_is_followed(mock, client):
    mock.add(responses.GET, f"{BASE}/v3/templates", match=[matchers.query_param_matcher(FIRST_PAGE)],
             json=page([template("d-1"), template("d-2")], f"{BASE}/v3/templates?page_size=200&generations=dynamic&page_token=p2"))
    mock.add(responses.GET, f"{BASE}/v3/templates", match=[matchers.query_param_matcher(FIRST_PAGE | {"page_token": "p2"})],
             json=page([template("d-3")], f"{BASE}/v3/templates?page_size=200&generations=dynamic&page_token=p3"))
    mock.add(responses.GET, f"{BASE}/v3/templates", match=[matchers.query_param_matcher(FIRST_PAGE | {"page_token": "p3"})],
             json=page([template("d-4")]))

    templates = client.list_templates()

    assert [t.id for t in templates] == ["d-1", "d-2", "d-3", "d-4"]
    assert templates[0].name == "Template d-1"
    assert all(call.request.req_kwargs["timeout"] == 4.0 for call in mock.calls)
    assert all(call.request.headers["Authorization"] == f"Bearer {KEY}" for call in mock.calls)


def test_a_next_link_without_the_required_parameters_still_sends_them(mock, client):
    mock.add(responses.GET, f"{BASE}/v3/templates", match=[matchers.query_param_matcher(FIRST_PAGE)],
             json=page([template("d-1")], f"{BASE}/v3/templates?page_token=p2"))
    mock.add(responses.GET, f"{BASE}/v3/templates", match=[matchers.query_param_matcher(FIRST_PAGE | {"page_token": "p2"})],
             json=page([template("d-2")]))

    assert [t.id for t in client.list_templates()] == ["d-1", "d-2"]


def test_a_next_link_to_another_host_is_followed_on_our_base_url(mock, client):
    mock.add(responses.GET, f"{BASE}/v3/templates", match=[matchers.query_param_matcher(FIRST_PAGE)],
             json=page([template("d-1")], "https://api.sendgrid.com/v3/templates?generations=dynamic&page_size=200&page_token=p2"))
    mock.add(responses.GET, f"{BASE}/v3/templates", match=[matchers.query_param_matcher(FIRST_PAGE | {"page_token": "p2"})],
             json=page([template("d-2")]))

    assert [t.id for t in client.list_templates()] == ["d-1", "d-2"]
    assert all(call.request.url.startswith(f"{BASE}/") for call in mock.calls)


def test_updated_at_in_utc_becomes_created_at(mock, client):
    mock.add(responses.GET, f"{BASE}/v3/templates", json=page([template("d-1", updated_at="2026-01-10 09:00:00")]))

    (listed,) = client.list_templates()

    assert listed.created_at == datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    assert listed.created_at.tzinfo is not None


def test_legacy_templates_are_left_out(mock, client):
    mock.add(responses.GET, f"{BASE}/v3/templates", json=page([template("d-1"), template("legacy-1", generation="legacy")]))

    assert [t.id for t in client.list_templates()] == ["d-1"]


def test_a_next_link_that_repeats_stops_with_a_bad_response_instead_of_looping(mock, client):
    loop = f"{BASE}/v3/templates?generations=dynamic&page_size=200&page_token=same"
    mock.add(responses.GET, f"{BASE}/v3/templates", json=page([template("d-1")], loop))

    with pytest.raises(ProviderBadResponse):
        client.list_templates()


def test_an_answer_without_result_is_a_bad_response(mock, client):
    mock.add(responses.GET, f"{BASE}/v3/templates", json={"templates": []})

    with pytest.raises(ProviderBadResponse):
        client.list_templates()


# Sending -----------------------------------------------------------------------------------------


def test_send_posts_personalizations_and_returns_the_x_message_id(mock, client):
    accepts(mock, "sg-message-42")

    message_id = client.send(
        message(cc=["c@client.example"], bcc=["audit@acme.example"]), idempotency_key="email-1"
    )

    assert message_id == "sg-message-42"
    assert sent_json(mock) == {
        "personalizations": [
            {"to": [{"email": "a@client.example"}], "cc": [{"email": "c@client.example"}], "bcc": [{"email": "audit@acme.example"}]}
        ],
        "from": {"email": "noreply@acme.example", "name": "Acme Legal"},
        "subject": "Your documents",
        "content": [{"type": "text/plain", "value": "Hi"}, {"type": "text/html", "value": "<p>Hi</p>"}],
    }
    request = mock.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.req_kwargs["timeout"] == 4.0


def test_empty_cc_and_bcc_are_omitted_because_sendgrid_rejects_empty_arrays(mock, client):
    accepts(mock)

    client.send(message(from_name="", html=""), idempotency_key="email-1")

    body = sent_json(mock)
    assert body["personalizations"] == [{"to": [{"email": "a@client.example"}]}]
    assert body["from"] == {"email": "noreply@acme.example"}
    assert body["content"] == [{"type": "text/plain", "value": "Hi"}]


def test_an_address_repeated_across_to_cc_and_bcc_is_sent_once(mock, client):
    accepts(mock)

    client.send(message(to=["a@client.example"], cc=["A@client.example", "c@client.example"], bcc=["c@client.example"]),
                idempotency_key="email-1")

    (personalization,) = sent_json(mock)["personalizations"]
    assert personalization == {"to": [{"email": "a@client.example"}], "cc": [{"email": "c@client.example"}]}


def test_a_named_recipient_becomes_an_email_and_name(mock, client):
    accepts(mock)

    client.send(message(to=["Jane Doe <jane@client.example>"]), idempotency_key="email-1")

    assert sent_json(mock)["personalizations"][0]["to"] == [{"email": "jane@client.example", "name": "Jane Doe"}]


def test_a_dynamic_template_is_sent_by_id_with_its_data_and_no_content(mock, client):
    accepts(mock)

    client.send(message(template_id="d-abc", template_data={"first_name": "Ada", "n": 1}), idempotency_key="email-1")

    body = sent_json(mock)
    assert body["template_id"] == "d-abc"
    assert body["personalizations"][0]["dynamic_template_data"] == {"first_name": "Ada", "n": 1}
    assert "content" not in body


def test_attachments_are_base64_with_type_and_attachment_disposition(mock, client):
    accepts(mock)
    pdf = b"%PDF-1.7\x00\xff binary"

    client.send(message(attachments=[Attachment("contract.pdf", "application/pdf", pdf)]), idempotency_key="email-1")

    assert sent_json(mock)["attachments"] == [
        {"content": base64.b64encode(pdf).decode(), "filename": "contract.pdf", "type": "application/pdf", "disposition": "attachment"}
    ]


def test_no_idempotency_header_is_sent_because_sendgrid_has_none(mock, client):
    accepts(mock)

    client.send(message(), idempotency_key="email-1")

    assert "Idempotency-Key" not in mock.calls[0].request.headers


def test_a_202_without_x_message_id_is_a_bad_response_that_is_not_retried(mock, client):
    mock.add(responses.POST, f"{BASE}/v3/mail/send", status=202, body="")

    with pytest.raises(ProviderBadResponse, match="X-Message-Id") as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False  # the email may well have been accepted


def test_a_read_timeout_on_send_is_not_retryable_since_the_email_may_have_gone(mock, client):
    mock.add(responses.POST, f"{BASE}/v3/mail/send", body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(ProviderTimeout) as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False


# SendGrid's own error shapes ----------------------------------------------------------------------


def test_validation_errors_name_the_field_and_message(mock, client):
    mock.add(responses.POST, f"{BASE}/v3/mail/send", status=400, json={"errors": [
        {"message": "The from address does not match a verified Sender Identity.", "field": "from", "help": None},
        {"message": "Invalid type. Expected: object.", "field": "personalizations.0.dynamic_template_data"},
    ]})  # fmt: skip

    with pytest.raises(ProviderRejected) as caught:
        client.send(message(), idempotency_key="email-1")

    text = str(caught.value)
    assert "from: The from address does not match a verified Sender Identity." in text
    assert "personalizations.0.dynamic_template_data: Invalid type" in text
    assert caught.value.status_code == 400


def test_a_429_without_retry_after_waits_until_x_ratelimit_reset(mock, client):
    mock.add(responses.POST, f"{BASE}/v3/mail/send", status=429, json={"errors": [{"field": None, "message": "too many requests"}]},
             headers={"X-RateLimit-Limit": "150", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 30)})

    with pytest.raises(ProviderRateLimited) as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is True
    assert 20 <= caught.value.retry_after <= 31


def test_an_x_message_id_longer_than_the_log_keeps_is_a_bad_response_not_retried(mock, client):
    mock.add(responses.POST, f"{BASE}/v3/mail/send", status=202, body="", headers={"X-Message-Id": "m" * 256})

    with pytest.raises(ProviderBadResponse, match="message id") as caught:
        client.send(message(), idempotency_key="email-1")

    assert caught.value.retryable is False
