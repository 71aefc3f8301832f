"""Provider B: the SendGrid v3 API (dynamic templates; the message id comes back in `X-Message-Id`), and its
Event Webhook (Signed Event Webhook: ECDSA P-256 over the timestamp and body; events in batches).
"""

import base64
import binascii
import math
import time
from email.utils import parseaddr
from urllib.parse import parse_qsl, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..types import load_ec_p256_public_key
from . import webhooks
from .base import EmailProviderClient, OutboundMessage
from .exceptions import MalformedWebhook, WebhookSignatureError

# The custom arg every send carries, echoed as a top-level key of each of its events: the log row's id.
REFERENCE_ARG = "opbox_email_id"
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
# SendGrid's event names -> ours; any other (group_resubscribe, ...) is not kept.
EVENT_TYPES = {
    "processed": webhooks.ACCEPTED,
    "delivered": webhooks.DELIVERED,
    "deferred": webhooks.DEFERRED,
    "bounce": webhooks.BOUNCED,
    "dropped": webhooks.DROPPED,
    "spamreport": webhooks.COMPLAINED,
    "open": webhooks.OPENED,
    "click": webhooks.CLICKED,
    "unsubscribe": webhooks.UNSUBSCRIBED,
    "group_unsubscribe": webhooks.UNSUBSCRIBED,
}


class SendGridClient(EmailProviderClient):
    """Client of the SendGrid v3 API; `Authorization: Bearer <api key>`."""

    provider_name = "SendGrid"
    # No idempotency key: a send interrupted mid-call may have been accepted, so it is never repeated.
    idempotent_sends = False
    batch_size = 1
    templates_path = "/v3/templates"
    # Both are needed: without `generations` SendGrid lists legacy templates, and `page_size` is required.
    templates_query = {"generations": "dynamic", "page_size": "200"}
    templates_key = "result"
    template_timestamp_field = "updated_at"  # SendGrid lists no creation time; this (UTC, no offset) is closest

    def _next_page(self, page: dict, items: list) -> tuple[str, dict] | None:
        """SendGrid pages by link: `_metadata.next`, until it is absent (or a page comes back empty)."""
        metadata = page.get("_metadata")
        link = metadata.get("next") if isinstance(metadata, dict) else None
        if not link or not items:
            return None
        parts, ours = urlsplit(link), urlsplit(self.base_url)
        # The required parameters are kept even if a `next` link leaves them out.
        params = self.templates_query | dict(parse_qsl(parts.query))
        if (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc):
            return parts._replace(query="", fragment="").geturl(), params
        return self.templates_path, params  # never send the key to a host we were not configured with

    def _lists_template(self, item) -> bool:
        # Only dynamic templates take `dynamic_template_data`; a legacy one slipping through would be unusable.
        return not isinstance(item, dict) or item.get("generation", "dynamic") == "dynamic"

    def send(self, message: OutboundMessage, *, idempotency_key: str) -> str:
        """Send through `POST /v3/mail/send`; the message id is the `X-Message-Id` of the 202 answer."""
        # SendGrid has no idempotency key: `idempotency_key` is accepted for a uniform interface and ignored.
        # So this POST is not idempotent, and a read timeout or reset mid-call is reported as not retryable.
        response = self._request("POST", "/v3/mail/send", json=self._payload(message), idempotent=self.idempotent_sends)
        message_id = response.headers.get("X-Message-Id", "").strip()
        return self._message_id(message_id, f"the X-Message-Id header of its HTTP {response.status_code}")

    def _payload(self, message: OutboundMessage) -> dict:
        seen: set[str] = set()
        personalization = {"to": _addresses(message.to, seen)}
        for field in ("cc", "bcc"):
            addresses = _addresses(getattr(message, field), seen)
            if addresses:  # SendGrid rejects an empty cc or bcc array
                personalization[field] = addresses
        sender = {"email": message.from_email} | ({"name": message.from_name} if message.from_name else {})
        payload = {"personalizations": [personalization], "from": sender}
        if message.subject:  # a dynamic template carries its own subject
            payload["subject"] = message.subject
        if message.template_id:
            payload["template_id"] = message.template_id
            if message.template_data:
                personalization["dynamic_template_data"] = message.template_data
        else:
            # SendGrid requires text/plain before text/html.
            parts = (("text/plain", message.text), ("text/html", message.html))
            payload["content"] = [{"type": kind, "value": value} for kind, value in parts if value]
        if message.attachments:
            payload["attachments"] = [
                {"content": a.content_base64, "filename": a.filename, "type": a.content_type,
                 "disposition": "attachment"}
                for a in message.attachments
            ]
        if message.reference:
            # Echoed in every event of this email: how its events find the row before the message id is known.
            payload["custom_args"] = {REFERENCE_ARG: message.reference}
        return payload

    # Errors look like {"errors": [{"message": "...", "field": "...", "help": ...}]}.

    def _error_details(self, payload, response) -> tuple[str, str]:
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if not isinstance(errors, list):
            return "", ""
        texts = []
        for error in errors:
            if isinstance(error, dict) and error.get("message"):
                field = error.get("field")
                texts.append(f"{field}: {error['message']}" if field else str(error["message"]))
        return "", "; ".join(texts)

    def _retry_after(self, response) -> float | None:
        seconds = super()._retry_after(response)
        if seconds is not None or response.status_code != 429:
            return seconds
        # SendGrid's 429 carries X-RateLimit-Reset (a Unix time) rather than Retry-After.
        try:
            seconds = float(response.headers["X-RateLimit-Reset"]) - time.time()
        except (KeyError, ValueError):
            return None
        return max(0.0, seconds) if math.isfinite(seconds) else None


    # Event Webhook: a JSON array of events, one per recipient and happening, signed as a whole.

    @classmethod
    def verify_webhook(cls, secret: str, headers, body: bytes) -> None:
        """ECDSA P-256 / SHA-256 over the timestamp header's bytes followed by the raw body, checked with the
        verification key (base64 DER) SendGrid shows; a timestamp more than 5 minutes away is refused.
        """
        headers = webhooks.lower_headers(headers)
        signature, timestamp = headers.get(SIGNATURE_HEADER, ""), headers.get(TIMESTAMP_HEADER, "")
        try:
            signed_at = int(timestamp.strip())
        except ValueError:
            raise WebhookSignatureError("SendGrid webhook refused: no readable timestamp.") from None
        # Integer arithmetic: a timestamp of a few hundred digits is an int no float can hold.
        if abs(int(time.time()) - signed_at) > webhooks.SIGNATURE_TOLERANCE.total_seconds():
            raise WebhookSignatureError("SendGrid webhook refused: the timestamp is not within 5 minutes of now.")
        try:
            key = load_ec_p256_public_key(secret)
            key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, binascii.Error) as error:
            raise WebhookSignatureError(f"SendGrid webhook refused: {type(error).__name__} {error}".strip()) from None

    @classmethod
    def parse_webhook(cls, headers, body: bytes) -> webhooks.WebhookBatch:
        """`[{"email", "timestamp", "event", "sg_event_id", "sg_message_id", "reason", "type", <custom args>}]`."""
        payload = webhooks.load_json(body)
        if not isinstance(payload, list):
            raise MalformedWebhook("Expected a JSON array of events.")
        events = []
        for index, item in enumerate(payload):
            where = f"event {index}"
            if not isinstance(item, dict) or not isinstance(item.get("event"), str):
                raise MalformedWebhook(f"{where}: expected an object with an `event` name.")
            kind = EVENT_TYPES.get(item["event"])
            if kind is None:
                continue
            recipient = webhooks.text(item.get("email"))
            if not recipient:
                raise MalformedWebhook(f"{where}: `email` is missing.")
            events.append(
                webhooks.WebhookEvent(
                    event_id=webhooks.event_id(item.get("sg_event_id"), where),
                    type=kind,
                    occurred_at=webhooks.unix_time(item.get("timestamp"), where),
                    # sg_message_id is the X-Message-Id the send answered, followed by `.` and a filter's suffix.
                    message_id=webhooks.text(item.get("sg_message_id")).split(".", 1)[0],
                    email_id=webhooks.text(item.get(REFERENCE_ARG)),
                    recipient=recipient,
                    addresses=(recipient,),
                    detail=_detail(item),
                    permanent=item["event"] == "bounce" and item.get("type") == "bounce",
                )
            )
        return webhooks.WebhookBatch(received=len(payload), events=events)


def _detail(item: dict) -> str:
    """The reason an event gives: a bounce's or drop's reason (a bounce's type, bounce or blocked, kept),
    the receiving server's response, the link clicked."""
    text = webhooks.text
    if item["event"] == "bounce":
        kind = text(item.get("type"))
        return text(item.get("reason")) + (f" (type: {kind})" if kind else "")
    return text(item.get("reason")) or text(item.get("response")) or text(item.get("url"))


def _addresses(values: list[str], seen: set[str]) -> list[dict]:
    """SendGrid address objects; an address already used in to/cc is dropped (SendGrid rejects repeats)."""
    addresses = []
    for value in values:
        name, email = parseaddr(value)
        email = email or value
        if email.lower() in seen:
            continue
        seen.add(email.lower())
        addresses.append({"email": email} | ({"name": name} if name else {}))
    return addresses
