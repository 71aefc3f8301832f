"""How both provider clients turn failures into the one exception family, and never leak the API key.

Each test runs against Resend and SendGrid alike; only the network is mocked (`responses`).
"""

import io
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
import urllib3

from integrations.providers import (
    OutboundMessage,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ResendClient,
    SendGridClient,
    client_for,
)
from integrations.providers.base import parse_retry_after
from integrations.providers.client import MAX_ANSWER_BYTES

CANARY = "re_CANARY_7c1f0e9d8b2a4c6e"
MESSAGE = OutboundMessage(
    from_email="noreply@acme.example", from_name="Acme", to=["a@client.example"], cc=[], bcc=[], subject="Hi", text="Hi"
)


@dataclass
class Provider:
    name: str
    client: object
    send_url: str
    templates_url: str

    def error_body(self, message, code=""):
        if self.name == "Resend":
            return {"statusCode": 0, "name": code or "application_error", "message": message}
        return {"errors": [{"message": message, "field": None}]}

    def send(self):
        return self.client.send(MESSAGE, idempotency_key="email-1")


@pytest.fixture(params=["resend", "sendgrid"])
def provider(request):
    if request.param == "resend":
        client = ResendClient(CANARY, base_url="https://provider-a.test", timeout=5)
        return Provider("Resend", client, "https://provider-a.test/emails", "https://provider-a.test/templates")
    client = SendGridClient(CANARY, base_url="https://provider-b.test", timeout=5)
    return Provider("SendGrid", client, "https://provider-b.test/v3/mail/send", "https://provider-b.test/v3/templates")


def assert_no_key(*texts):
    for text in texts:
        assert CANARY not in text


# HTTP statuses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_key_raises_auth_error_without_the_key(mock, provider, status):
    mock.add(responses.POST, provider.send_url, status=status, json=provider.error_body(f"API key {CANARY} is invalid", "invalid_api_key"))

    with pytest.raises(ProviderAuthError) as caught:
        provider.send()

    error = caught.value
    assert f"The stored API key was rejected by {provider.name}" in str(error)
    assert error.status_code == status
    assert error.retryable is False
    assert_no_key(str(error), repr(error))


def test_a_rejected_key_on_the_templates_list_is_an_auth_error_too(mock, provider):
    mock.add(responses.GET, provider.templates_url, status=401, json=provider.error_body("Missing API key", "missing_api_key"))

    with pytest.raises(ProviderAuthError):
        provider.client.list_templates()


def test_a_validation_error_is_rejected_with_the_providers_text(mock, provider):
    text = "Invalid `to` field. The email address needs to follow the `email@example.com` format."
    mock.add(responses.POST, provider.send_url, status=422, json=provider.error_body(text, "validation_error"))

    with pytest.raises(ProviderRejected) as caught:
        provider.send()

    assert text in str(caught.value)
    assert caught.value.status_code == 422
    assert caught.value.retryable is False


def test_a_rate_limit_is_retryable_after_the_retry_after_seconds(mock, provider):
    mock.add(responses.POST, provider.send_url, status=429, headers={"Retry-After": "7"},
             json=provider.error_body("Too many requests", "rate_limit_exceeded"))

    with pytest.raises(ProviderRateLimited) as caught:
        provider.send()

    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0
    assert caught.value.status_code == 429


def test_a_rate_limit_with_an_http_date_retry_after_waits_until_that_time(mock, provider):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
    mock.add(responses.POST, provider.send_url, status=429, headers={"Retry-After": when},
             json=provider.error_body("Too many requests", "rate_limit_exceeded"))

    with pytest.raises(ProviderRateLimited) as caught:
        provider.send()

    assert 100 <= caught.value.retry_after <= 120


def test_a_quota_429_is_never_retryable(mock):
    client = ResendClient(CANARY, base_url="https://provider-a.test", timeout=5)
    mock.add(responses.POST, "https://provider-a.test/emails", status=429, headers={"Retry-After": "60"},
             json={"statusCode": 429, "name": "daily_quota_exceeded", "message": "You have reached your daily email sending quota."})

    with pytest.raises(ProviderQuotaExceeded) as caught:
        client.send(MESSAGE, idempotency_key="email-1")

    assert caught.value.retryable is False
    assert isinstance(caught.value, ProviderError) and not isinstance(caught.value, ProviderRateLimited)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_a_retryable_unavailable(mock, provider, status):
    mock.add(responses.POST, provider.send_url, status=status, json=provider.error_body("Internal server error"))

    with pytest.raises(ProviderUnavailable) as caught:
        provider.send()

    assert caught.value.retryable is True
    assert caught.value.status_code == status
    assert "Internal server error" in str(caught.value)


def test_a_503_html_page_is_summarised_by_its_status_not_its_markup(mock, provider):
    mock.add(responses.POST, provider.send_url, status=503, body="<html><body><h1>503 Service Unavailable</h1></body></html>")

    with pytest.raises(ProviderUnavailable) as caught:
        provider.send()

    assert "<html>" not in str(caught.value)
    assert "HTTP 503" in str(caught.value)


def test_a_redirect_is_not_followed_and_is_a_bad_response(mock, provider):
    mock.add(responses.GET, provider.templates_url, status=301, headers={"Location": "https://elsewhere.example/templates"})

    with pytest.raises(ProviderBadResponse, match="redirect"):
        provider.client.list_templates()

    assert len(mock.calls) == 1


# Malformed answers -------------------------------------------------------------------------------


DEEPER_THAN_PYTHON_PARSES = "[" * 100_000  # json.loads raises RecursionError, not ValueError


@pytest.mark.parametrize("body", ["<html>not json</html>", "{\"data\": [", "[1, 2, 3]", "", DEEPER_THAN_PYTHON_PARSES])
def test_malformed_json_on_a_200_is_a_bad_response(mock, provider, body):
    mock.add(responses.GET, provider.templates_url, status=200, body=body, content_type="application/json")

    with pytest.raises(ProviderBadResponse) as caught:
        provider.client.list_templates()

    assert caught.value.retryable is False


def test_an_error_answer_nested_too_deep_to_read_is_still_the_providers_refusal(mock, provider):
    mock.add(responses.GET, provider.templates_url, status=400, body=DEEPER_THAN_PYTHON_PARSES, content_type="application/json")

    with pytest.raises(ProviderRejected) as caught:
        provider.client.list_templates()

    assert "HTTP 400" in str(caught.value)


def test_malformed_json_on_a_resend_send_is_a_bad_response():
    client = ResendClient(CANARY, base_url="https://provider-a.test", timeout=5)
    with responses.RequestsMock() as mock:
        mock.add(responses.POST, "https://provider-a.test/emails", status=200, body="OK")

        with pytest.raises(ProviderBadResponse):
            client.send(MESSAGE, idempotency_key="email-1")


# Answers too large or too slow -------------------------------------------------------------------


class _Drip(io.RawIOBase):
    """A body that comes one byte per read, `pause` seconds apart: each read is quick enough for the
    per-read timeout, and the whole never ends in time."""

    def __init__(self, pause: float, size: int = 1000):
        self._pause, self._left = pause, size

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self._left:
            return 0
        time.sleep(self._pause)
        buffer[0:1], self._left = b" ", self._left - 1
        return 1


class _Counted(io.BytesIO):
    served = 0

    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.served += count
        return count


def test_an_answer_larger_than_any_api_answer_is_refused_unread(mock, provider):
    big = _Counted(b"[" + b"0," * MAX_ANSWER_BYTES + b"0]")  # 8 MiB of valid JSON
    mock.add(responses.GET, provider.templates_url, body=io.BufferedReader(big), content_type="application/json")

    with pytest.raises(ProviderBadResponse) as caught:
        provider.client.list_templates()

    assert "larger than 4 MiB" in str(caught.value)
    assert MAX_ANSWER_BYTES < big.served < MAX_ANSWER_BYTES + 2**17  # read up to the limit, not to the end


def test_an_answer_that_drips_in_is_a_timeout_once_the_whole_answer_is_late(mock, provider):
    client = type(provider.client)(CANARY, base_url=provider.client.base_url, timeout=0.2)
    mock.add(responses.GET, provider.templates_url, body=io.BufferedReader(_Drip(0.02)), content_type="application/json")

    began = time.monotonic()
    with pytest.raises(ProviderTimeout) as caught:
        client.list_templates()

    assert time.monotonic() - began < 1.0  # 1,000 bytes at 50 a second would take 20 s
    assert "0.2 s" in str(caught.value)


# Transport failures ------------------------------------------------------------------------------


def test_a_read_timeout_is_a_provider_timeout(mock, provider):
    mock.add(responses.GET, provider.templates_url, body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(ProviderTimeout) as caught:
        provider.client.list_templates()

    assert "did not answer within 5 s" in str(caught.value)
    assert caught.value.retryable is True  # listing is a GET: repeating it is harmless
    assert caught.value.status_code is None


def test_a_connect_timeout_is_a_retryable_provider_timeout(mock, provider):
    mock.add(responses.POST, provider.send_url, body=requests.exceptions.ConnectTimeout("connect timed out"))

    with pytest.raises(ProviderTimeout) as caught:
        provider.send()

    assert caught.value.retryable is True  # never connected, so nothing was sent


def test_a_read_timeout_on_a_resend_send_is_retryable_thanks_to_the_idempotency_key(mock):
    client = ResendClient(CANARY, base_url="https://provider-a.test", timeout=5)
    mock.add(responses.POST, "https://provider-a.test/emails", body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(ProviderTimeout) as caught:
        client.send(MESSAGE, idempotency_key="email-1")

    assert caught.value.retryable is True


def test_a_connection_reset_is_unavailable(mock, provider):
    mock.add(responses.GET, provider.templates_url, body=requests.exceptions.ConnectionError("Connection reset by peer"))

    with pytest.raises(ProviderUnavailable) as caught:
        provider.client.list_templates()

    assert caught.value.retryable is True
    assert provider.name in str(caught.value)


def test_a_reset_during_a_sendgrid_send_is_not_retried_but_a_refused_connection_is(mock):
    client = SendGridClient(CANARY, base_url="https://provider-b.test", timeout=5)
    refused = urllib3.exceptions.MaxRetryError(
        None, "/v3/mail/send", reason=urllib3.exceptions.NewConnectionError(None, "Connection refused")
    )
    mock.add(responses.POST, "https://provider-b.test/v3/mail/send", body=requests.exceptions.ConnectionError("Connection reset by peer"))
    mock.add(responses.POST, "https://provider-b.test/v3/mail/send", body=requests.exceptions.ConnectionError(refused))

    with pytest.raises(ProviderUnavailable) as reset:
        client.send(MESSAGE, idempotency_key="email-1")
    with pytest.raises(ProviderUnavailable) as never_connected:
        client.send(MESSAGE, idempotency_key="email-1")

    assert reset.value.retryable is False  # SendGrid may have accepted it: a retry could send twice
    assert never_connected.value.retryable is True


def test_an_empty_key_fails_as_an_auth_error_before_any_request(mock, provider):
    client = type(provider.client)("   ", base_url="https://provider.test", timeout=5)

    with pytest.raises(ProviderAuthError):
        client.send(MESSAGE, idempotency_key="email-1")

    assert not mock.calls


# The key never leaks ---------------------------------------------------------------------------


def test_the_key_echoed_by_the_provider_never_reaches_messages_reprs_or_logs(mock, provider, caplog):
    caplog.set_level(logging.DEBUG)
    echo = f"Invalid key {CANARY}; you sent 'Authorization: Bearer {CANARY}'"
    mock.add(responses.POST, provider.send_url, status=401, json=provider.error_body(echo, "invalid_api_key"))
    mock.add(responses.POST, provider.send_url, status=422, json=provider.error_body(echo, "validation_error"))
    mock.add(responses.POST, provider.send_url, status=500, body=echo)
    mock.add(responses.GET, provider.templates_url, body=requests.exceptions.ConnectionError(f"reset while sending Bearer {CANARY}"))

    errors = []
    for attempt in (provider.send, provider.send, provider.send, provider.client.list_templates):
        with pytest.raises(ProviderError) as caught:
            attempt()
        errors.append(caught.value)

    for error in errors:
        assert_no_key(str(error), repr(error), repr(vars(error)), str(error.args))
        assert error.__cause__ is None and error.__context__ is None  # no requests object holding the header
    assert "[redacted]" in str(errors[1])
    assert_no_key(repr(provider.client), repr(vars(provider.client)), caplog.text)
    assert_no_key(*(record.getMessage() for record in caplog.records))
    assert caplog.records, "the client should log its calls at DEBUG"


def test_the_client_repr_shows_where_it_talks_to_but_not_the_key(provider):
    text = repr(provider.client)

    assert "provider-" in text and "timeout=5" in text
    assert_no_key(text)


# Shared pieces ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [("120", 120.0), ("0", 0.0), ("1.5", 1.5), ("-3", 0.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
     ("soon", None), ("", None), (None, None), ("nan", None)],
)
def test_retry_after_reads_seconds_or_an_http_date(value, expected):
    assert parse_retry_after(value) == expected


def test_every_provider_error_is_one_catchable_family():
    for cls in (ProviderAuthError, ProviderTimeout, ProviderUnavailable, ProviderRateLimited,
                ProviderQuotaExceeded, ProviderRejected, ProviderBadResponse):
        assert issubclass(cls, ProviderError)
    assert [cls.retryable for cls in (ProviderUnavailable, ProviderRateLimited)] == [True, True]
    assert not any(cls.retryable for cls in (ProviderAuthError, ProviderQuotaExceeded, ProviderRejected, ProviderBadResponse))


def test_client_for_refuses_a_type_that_is_not_an_email_provider():
    with pytest.raises(ValueError, match="WEBHOOK"):
        client_for("WEBHOOK", CANARY)
