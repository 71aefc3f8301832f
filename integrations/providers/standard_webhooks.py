"""WEBHOOK: any endpoint, signed per Standard Webhooks with the integration's `secret`; and the base of every
poster of workspace events (WEBHOOK_PLATFORM posts the same body unsigned).

The body is `{"type", "timestamp", "data"}`. Signed requests carry `webhook-id` (the delivery's id, the same on
every retry), `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">`, keyed by the secret: a `whsec_` secret's base64 part decoded, any other's UTF-8 bytes.
Signing is the `standardwebhooks` library's, which also verifies the email providers' webhooks.
"""

import json
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks import Webhook

from ..types import signing_key
from .client import CheckResult, ServiceClient
from .events import ALL_EVENTS
from .exceptions import MissingSetting

TEST_EVENT = "webhook.test"


class EventPoster(ServiceClient):
    """POSTs workspace events as JSON to a URL a user typed (guarded; a redirect is a failure, never followed)."""

    provider_name = "the webhook endpoint"
    guarded = True
    check_posts = True
    url_field = "url"
    default_events = ALL_EVENTS
    retries_any_refusal = True  # SPEC §15: any non-2xx but 410 is retried
    gone_disables = True

    def __init__(self, *args, identity: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider_name = urlsplit(self.base_url).hostname or self.provider_name
        self.identity = identity or {}

    @classmethod
    def from_values(cls, config, credentials, *, service_url, timeout, identity, unsaved=False, tokens=None):
        if not config.get(cls.url_field):
            raise MissingSetting(f"The integration {identity['name']!r} has no {cls.url_field}: add one first.")
        return cls(cls._credential_of(credentials, identity), base_url=config[cls.url_field], timeout=timeout,
                   unsaved=unsaved, identity=identity)  # fmt: skip

    @classmethod
    def _credential_of(cls, credentials: dict, identity: dict) -> str:
        return ""

    def _error_details(self, payload, response):
        return "", ""  # an endpoint's error body is whatever it chose: shown as text

    def _signature_headers(self, message_id: str, timestamp: datetime, body: str) -> dict:
        return {}

    def post_event(self, event_type: str, data: dict, *, message_id: str, timestamp: datetime | None = None):
        """One POST of `{"type", "timestamp", "data"}` (`timestamp`: when the event happened); a 2xx answer is
        returned, anything else raised. The signature's timestamp is the attempt's: verifiers refuse old ones."""
        sent_at = datetime.now(UTC)
        timestamp = timestamp or sent_at
        body = json.dumps({"type": event_type, "timestamp": timestamp.isoformat().replace("+00:00", "Z"), "data": data})
        headers = {"Content-Type": "application/json", **self._signature_headers(message_id, sent_at, body)}
        return self._request("POST", "", data=body.encode(), headers=headers, idempotent=False)

    def deliver(self, events) -> str:
        (event,) = events
        response = self.post_event(event.type, event.data, message_id=event.message_id, timestamp=event.timestamp)
        return str(response.status_code)

    def _post_test_event(self):
        data = {
            "integration": {key: self.identity.get(key) for key in ("id", "name", "type")},
            "message": "Opbox connection check: workspace events will be posted here.",
        }
        return self.post_event(TEST_EVENT, data, message_id=f"msg_{uuid.uuid4().hex}")


class StandardWebhookSender(EventPoster):
    provider_name = "the webhook endpoint"
    authenticates = False  # the signature is the authentication
    credential_name = "secret"
    credential_label = "signing secret"
    check_proves = "The endpoint answers 2xx to a webhook.test event signed with the secret."

    @classmethod
    def _credential_of(cls, credentials, identity):
        if not credentials.get("secret"):
            raise MissingSetting(f"The webhook {identity['name']!r} has no secret to sign with: add one first.")
        return credentials["secret"]

    def _signature_headers(self, message_id, timestamp, body):
        try:
            key = signing_key(self._credential.value)
        except ValueError as error:
            raise MissingSetting(f"The secret cannot sign: {error}; use whsec_ and base64, or any other string.") from None
        signature = Webhook(key).sign(message_id, timestamp, body)
        return {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp.timestamp())), "webhook-signature": signature}

    def check(self) -> CheckResult:
        response = self._post_test_event()
        return CheckResult(f"{self.provider_name} accepted a signed {TEST_EVENT} event (HTTP {response.status_code}).")
