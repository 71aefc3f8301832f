"""Provider A: the Resend HTTP API (`GET /templates` in cursor pages, `POST /emails` with an Idempotency-Key)."""

from .base import EmailProviderClient, OutboundMessage, format_address
from .exceptions import ProviderError, ProviderQuotaExceeded, ProviderRejected, ProviderUnavailable

PAGE_SIZE = 100  # Resend's maximum `limit`
QUOTA_ERRORS = {"daily_quota_exceeded", "monthly_quota_exceeded"}


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
        message_id = self._json(response).get("id")
        if not isinstance(message_id, str) or not message_id:
            raise self._bad_response("no message id in its answer")
        return message_id

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
