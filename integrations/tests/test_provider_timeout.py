"""EMAIL_PROVIDER_TIMEOUT reaches every HTTP call of the clients `client_for` builds."""

import pytest
import responses

from integrations.providers import OutboundMessage, client_for

CALLS = {
    "EMAIL_PROVIDER": [
        (responses.GET, "https://provider-a.test/templates", {"json": {"object": "list", "has_more": False, "data": []}}),
        (responses.POST, "https://provider-a.test/emails", {"json": {"id": "msg-1"}}),
    ],
    "EMAIL_PROVIDER_ALT": [
        (responses.GET, "https://provider-b.test/v3/templates", {"json": {"result": [], "_metadata": {}}}),
        (responses.POST, "https://provider-b.test/v3/mail/send", {"status": 202, "headers": {"X-Message-Id": "msg-1"}}),
    ],
}


@pytest.mark.parametrize("integration_type", CALLS)
def test_the_configured_timeout_reaches_each_provider_call(integration_type, settings):
    settings.EMAIL_PROVIDER_TIMEOUT = 2.5  # not the 10 s default, so a hard-coded default cannot pass
    client = client_for(integration_type, "key_0123456789abcdef")
    message = OutboundMessage(from_email="noreply@acme.example", from_name="", to=["ada@example.com"], cc=[], bcc=[], subject="Hi", text="Hello")
    with responses.RequestsMock() as mock:
        for method, url, answer in CALLS[integration_type]:
            mock.add(method, url, **answer)
        client.list_templates()
        client.send(message, idempotency_key="timeout-test")
        timeouts = [call.request.req_kwargs["timeout"] for call in mock.calls]

    assert timeouts == [2.5, 2.5]
