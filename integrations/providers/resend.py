"""Provider A: the Resend HTTP API (`GET /templates` in cursor pages, `POST /emails` and `POST /emails/batch`
with an Idempotency-Key), and its webhooks (Standard Webhooks / Svix signatures, one event per request).
"""

import base64
import binascii
import hmac
import time
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from . import webhooks
from .base import MAX_DETAIL, BatchResult, EmailProviderClient, OutboundMessage, format_address, parse_timestamp
from .exceptions import (
    MalformedWebhook,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRejected,
    ProviderUnavailable,
    WebhookSignatureError,
)

PAGE_SIZE = 100  # Resend's maximum `limit`
# The tag every send carries, echoed in `data.tags` of each of its events: the log row's id, so an event
# finds its row before the settle has written Resend's own id there.
REFERENCE_TAG = "opbox_email_id"
QUOTA_ERRORS = {"daily_quota_exceeded", "monthly_quota_exceeded"}

# Resend's event types -> ours; any other type (contact.*, domain.*, email.scheduled...) is not kept.
EVENT_TYPES = {
    "email.sent": webhooks.ACCEPTED,
    "email.delivered": webhooks.DELIVERED,
    "email.delivery_delayed": webhooks.DEFERRED,
    "email.bounced": webhooks.BOUNCED,
    "email.failed": webhooks.DROPPED,
    "email.suppressed": webhooks.DROPPED,
    "email.complained": webhooks.COMPLAINED,
    "email.opened": webhooks.OPENED,
    "email.clicked": webhooks.CLICKED,
}


class ResendClient(EmailProviderClient):
    """Client of the Resend API; `Authorization: Bearer <api key>`."""

    provider_name = "Resend"
    idempotent_sends = True  # Idempotency-Key: a repeat answers with the first result
    batch_size = 100  # POST /emails/batch
    templates_path = "/templates"
    templates_query = {"limit": PAGE_SIZE}
    templates_key = "data"

    def _next_page(self, page: dict, items: list) -> tuple[str, dict] | None:
        """Resend pages by cursor: `has_more`, then `after=<last id>`."""
        if page.get("has_more") is not True:
            return None
        if not items:  # a cursor that cannot move would loop forever
            raise self._bad_response("`has_more` without a new cursor")
        return self.templates_path, self.templates_query | {"after": items[-1]["id"]}

    def send(self, message: OutboundMessage, *, idempotency_key: str) -> str:
        """Send through `POST /emails`; the same `idempotency_key` on a retry makes Resend send it only once."""
        if not idempotency_key:
            raise ValueError("Resend sends need an idempotency key: it is what makes a retry safe.")
        response = self._request(
            "POST", "/emails", json=self._payload(message), headers={"Idempotency-Key": idempotency_key},
            idempotent=self.idempotent_sends,
        )
        return self._message_id(self._json(response).get("id"), "its answer")

    def send_batch(self, messages: list[OutboundMessage], *, idempotency_key: str) -> list[BatchResult]:
        """Send through `POST /emails/batch` in permissive mode: an email Resend refuses fails alone, named by
        its index in `errors`; `data` holds the ids of the others, in request order. The batch endpoint takes
        no attachments: such emails go through `send`.
        """
        if not idempotency_key:
            raise ValueError("Resend sends need an idempotency key: it is what makes a retry safe.")
        if not 1 <= len(messages) <= self.batch_size or any(message.attachments for message in messages):
            raise ValueError(f"A Resend batch holds 1 to {self.batch_size} emails, none with attachments.")
        response = self._request(
            "POST", "/emails/batch", json=[self._payload(message) for message in messages],
            headers={"Idempotency-Key": idempotency_key, "x-batch-validation": "permissive"},
            idempotent=self.idempotent_sends,
        )  # fmt: skip
        answer = self._json(response)
        data, errors = answer.get("data"), answer.get("errors") or []
        if not isinstance(data, list) or not isinstance(errors, list):
            raise self._bad_response("a batch answer without a `data` list")
        refused = {}
        for error in errors:
            index = error.get("index") if isinstance(error, dict) else None
            if not isinstance(index, int) or not 0 <= index < len(messages) or index in refused:
                raise self._bad_response("a batch error without a valid `index`")
            detail = self._scrub(" ".join(str(error.get("message") or "no reason given").split()))[:MAX_DETAIL]
            refused[index] = f"Resend refused this email of the batch: {detail}"
        accepted = [index for index in range(len(messages)) if index not in refused]
        ids = [item.get("id") if isinstance(item, dict) else None for item in data]
        if len(ids) != len(accepted):
            raise self._bad_response(f"{len(ids)} message ids for the {len(accepted)} emails it accepted")
        ids = [self._message_id(id_, "its batch answer") for id_ in ids]
        results = dict(zip(accepted, (BatchResult(message_id=id_) for id_ in ids), strict=True))
        results |= {index: BatchResult(error=text) for index, text in refused.items()}
        return [results[index] for index in range(len(messages))]

    def _payload(self, message: OutboundMessage) -> dict:
        payload = {"from": format_address(message.from_email, message.from_name), "to": list(message.to)}
        for field in ("cc", "bcc"):
            if getattr(message, field):
                payload[field] = list(getattr(message, field))
        if message.subject:  # with a template, an empty subject leaves the template's own
            payload["subject"] = message.subject
        if message.template_id:
            # Resend renders the template: html/text must not be sent alongside it.
            payload["template"] = {"id": message.template_id}
            if message.template_data:
                payload["template"]["variables"] = message.template_data
        else:
            payload |= {key: value for key, value in (("html", message.html), ("text", message.text)) if value}
        if message.attachments:
            payload["attachments"] = [
                {"filename": a.filename, "content": a.content_base64, "content_type": a.content_type}
                for a in message.attachments
            ]
        if message.reference:
            payload["tags"] = [{"name": REFERENCE_TAG, "value": message.reference}]
        return payload

    # Errors look like {"statusCode": 422, "name": "validation_error", "message": "..."}.

    def _error_details(self, payload, response) -> tuple[str, str]:
        if not isinstance(payload, dict):
            return "", ""
        return str(payload.get("name") or ""), str(payload.get("message") or payload.get("error") or "")

    def _error_class(self, status: int, code: str) -> type[ProviderError]:
        if status == 429 and code in QUOTA_ERRORS:
            return ProviderQuotaExceeded
        if status == 403 and code == "validation_error":
            # An unverified domain or a test-mode recipient: the key works, the request does not.
            return ProviderRejected
        if status == 409 and code == "concurrent_idempotent_requests":
            # An earlier attempt with this key is still in progress: asking again shortly gets its result.
            return ProviderUnavailable
        return super()._error_class(status, code)

    # Webhooks: Standard Webhooks (Svix) signatures; one event per request, named by the email, not a recipient.

    @classmethod
    def verify_webhook(cls, secret: str, headers, body: bytes) -> None:
        """HMAC-SHA256 under the `whsec_` secret over `{svix-id}.{svix-timestamp}.{body}` (the `standardwebhooks`
        library signs), the timestamp within 5 minutes, and any one of the header's `v1,<base64>` entries matching.

        Each entry is judged on its own: one that is malformed (not base64, mis-padded) is skipped, never
        allowed to hide a valid one after it.
        """
        headers = webhooks.lower_headers(headers)
        msg_id, stamp, entries = (headers.get(f"svix-{name}") or headers.get(f"webhook-{name}", "") for name in ("id", "timestamp", "signature"))
        if not (msg_id and stamp and entries):
            raise WebhookSignatureError("Resend webhook refused: a signature header is missing.")
        try:
            signed_at = int(stamp.strip())  # whole seconds; integer arithmetic below cannot overflow
        except ValueError:
            raise WebhookSignatureError("Resend webhook refused: no readable timestamp.") from None
        if abs(int(time.time()) - signed_at) > webhooks.SIGNATURE_TOLERANCE.total_seconds():
            raise WebhookSignatureError("Resend webhook refused: the timestamp is not within 5 minutes of now.")
        try:
            signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(signed_at, UTC), body.decode())
        except (EmptyWebhookSecretError, ValueError) as error:
            # ValueError covers a secret that is not base64 and a body that is not UTF-8 (it cannot be signed).
            raise WebhookSignatureError(f"Resend webhook refused: {type(error).__name__}") from None
        expected = base64.b64decode(signature.partition(",")[2])
        for entry in entries.split():
            version, _, value = entry.partition(",")
            try:
                candidate = base64.b64decode(value, validate=True)
            except binascii.Error:
                continue
            if version == "v1" and hmac.compare_digest(candidate, expected):
                return
        raise WebhookSignatureError("Resend webhook refused: no signature matches.")

    @classmethod
    def parse_webhook(cls, headers, body: bytes) -> webhooks.WebhookBatch:
        """`{"type", "created_at", "data": {"email_id", "to", ...}}`; the event id is the `svix-id` header."""
        headers = webhooks.lower_headers(headers)
        payload = webhooks.load_json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            raise MalformedWebhook("Expected an event object with a `type`.")
        kind = EVENT_TYPES.get(payload["type"])
        if kind is None:
            return webhooks.WebhookBatch(received=1)
        data = payload.get("data")
        if not isinstance(data, dict) or not webhooks.text(data.get("email_id")):
            raise MalformedWebhook(f"{payload['type']}: `data.email_id` is missing.")
        try:
            occurred_at = parse_timestamp(payload.get("created_at") or data.get("created_at"))
        except ValueError:
            raise MalformedWebhook(f"{payload['type']}: `created_at` is not a timestamp.") from None
        to = data.get("to")
        addresses = tuple(a for a in map(webhooks.text, to if isinstance(to, list) else [to]) if a)
        bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
        event = webhooks.WebhookEvent(
            event_id=webhooks.event_id(headers.get("svix-id") or headers.get("webhook-id"), "svix-id"),
            type=kind,
            occurred_at=occurred_at,
            message_id=webhooks.text(data["email_id"]),
            email_id=_reference(data.get("tags")),
            addresses=addresses,
            detail=_detail(data),
            permanent=kind == webhooks.BOUNCED and bounce.get("type") == "Permanent",
        )
        return webhooks.WebhookBatch(received=1, events=[event])


def _reference(tags) -> str:
    """Our row id from an event's `data.tags`: an array of `{"name", "value"}` as Resend documents it, or the
    `{name: value}` object its SDK types; "" when absent."""
    if isinstance(tags, dict):
        return webhooks.text(tags.get(REFERENCE_TAG))
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and tag.get("name") == REFERENCE_TAG:
                return webhooks.text(tag.get("value"))
    return ""


def _detail(data: dict) -> str:
    """The reason an event gives: a bounce's message and kind, why it failed or was suppressed, the link clicked."""
    text = webhooks.text
    if isinstance(bounce := data.get("bounce"), dict):
        kinds = ", ".join(k for k in (text(bounce.get("type")), text(bounce.get("subType"))) if k)
        return text(bounce.get("message")) + (f" ({kinds})" if kinds else "")
    for key, reason in (("failed", "reason"), ("suppressed", "message"), ("click", "link")):
        if isinstance(part := data.get(key), dict):
            return text(part.get(reason))
    return ""
