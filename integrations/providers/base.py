"""What every email provider client shares beyond the service client's HTTP (client.py): listing templates
page by page, the message and template shapes, and the webhook hooks.

A provider module only translates: our `OutboundMessage` into its JSON, and its answers into
`ProviderTemplate`s and message ids.
"""

import base64
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests

from .client import MAX_DETAIL, REDACTED, CheckResult, ServiceClient, parse_retry_after
from .exceptions import MissingSetting, WebhookSignatureError
from .webhooks import WebhookBatch

__all__ = ["MAX_DETAIL", "REDACTED", "parse_retry_after"]  # re-exported: provider modules import them from here

MAX_PAGES = 100  # far above any real account (Resend pages hold 100, SendGrid allows 300 templates)
MAX_MESSAGE_ID = 255  # characters of a provider's message id the Email Log keeps (its Message ID column)


@dataclass(frozen=True)
class ProviderTemplate:
    """One template as listed by a provider; `created_at` is an aware UTC datetime."""

    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Attachment:
    """A file to attach; `content` is the raw bytes (clients base64-encode them)."""

    filename: str
    content_type: str
    content: bytes = field(repr=False)

    @property
    def content_base64(self) -> str:
        return base64.b64encode(self.content).decode("ascii")


@dataclass
class OutboundMessage:
    """One email, from the sender's request to the provider call: literal html/text, or a provider
    template id with its data. The sender is the integration's; `send_email` fills it in.
    """

    to: list[str]
    subject: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    html: str = ""
    text: str = ""
    template_id: str = ""
    template_data: dict | None = None
    attachments: list[Attachment] = field(default_factory=list)
    from_email: str = ""
    from_name: str = ""
    # Our id for the email (its log row's): a provider that can carry it echoes it in the email's events.
    reference: str = ""


@dataclass(frozen=True)
class BatchResult:
    """What the provider made of one email of a batch: its message id, or why it refused that email alone."""

    message_id: str = ""
    error: str = ""


def format_address(email: str, name: str = "") -> str:
    """`Name <email>`, quoting the name when it holds characters that would change the address's meaning."""
    name = " ".join((name or "").split())  # a newline in a display name would break the header
    if not name:
        return email
    if re.search(r'[(),.:;<>@\[\]"\\]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{email}>"


def parse_timestamp(value) -> datetime:
    """A provider timestamp (`2026-01-10 09:00:00.000+00`, ISO with `T`/`Z`/offset) as an aware UTC datetime.

    A timestamp without an offset is taken as UTC. Raises ValueError when `value` is not a timestamp.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"not a timestamp: {value!r}")
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: in UTC it falls before year 1
        raise ValueError(f"not a timestamp in UTC's range: {value!r}") from None


class EmailProviderClient(ServiceClient):
    """Base of the email provider clients: a service client authenticating with the integration's apiKey.

    Capabilities are class attributes that generic code (sending, recovery) reads instead of asking
    which provider this is.
    """

    provider_name = "the email provider"
    # Where the provider's API lives and how fast one account may call it (the registry reads these).
    url_setting = ""
    rate_setting = ""
    # True when a send repeated with the same idempotency key cannot deliver twice, so a retry or a
    # resend after a crash is safe even when the first attempt's outcome is unknown.
    idempotent_sends = False
    # The most emails one send request may carry; above 1 the client implements `send_batch`.
    batch_size = 1

    # Template listing: the first page's request, the key of a page's list, the field dated as created_at.
    templates_path = ""
    templates_query: dict = {}
    templates_key = ""
    template_timestamp_field = "created_at"

    def __init__(self, api_key: str, *, base_url: str, timeout: float, session: requests.Session | None = None,
                 unsaved: bool = False):  # fmt: skip
        super().__init__(api_key, base_url=base_url, timeout=timeout, session=session, unsaved=unsaved)

    check_proves = "The provider accepts the API key: it lists the account's templates with it."

    @classmethod
    def from_values(cls, config, credentials, *, service_url, timeout, identity, unsaved=False, tokens=None):
        if not credentials.get("apiKey"):
            raise MissingSetting(f"The email integration {identity['name']!r} has no apiKey: add one first.")
        return cls(credentials["apiKey"], base_url=service_url, timeout=timeout, unsaved=unsaved)

    def check(self) -> CheckResult:
        """List every template (never from a cache): the plainest proof that the key works."""
        templates = self.list_templates()
        names = ", ".join(template.name or template.id for template in templates[:5]) + (", ..." if len(templates) > 5 else "")
        count = f"{len(templates)} template{'' if len(templates) == 1 else 's'} found"
        return CheckResult(f"{self.provider_name} accepts the API key; {count}{': ' + names if templates else ''}.", templates)

    # Public interface ----------------------------------------------------------------------------

    def list_templates(self) -> list[ProviderTemplate]:
        """Every template the account holds, following the provider's pages (`_next_page`)."""
        templates, seen = [], set()
        path, params = self.templates_path, dict(self.templates_query)
        for _ in range(MAX_PAGES):
            page = self._json(self._request("GET", path, params=params))
            items = page.get(self.templates_key)
            if not isinstance(items, list):
                raise self._bad_response(f"templates without a `{self.templates_key}` list")
            templates += [self._template(item) for item in items if self._lists_template(item)]
            following = self._next_page(page, items)
            if following is None:
                return templates
            path, params = following
            request = (path, tuple(sorted(params.items())))
            if request in seen:  # a next page that points back would loop forever
                raise self._bad_response("a next page of templates it already gave")
            seen.add(request)
        raise self._bad_response(f"more than {MAX_PAGES} pages of templates")

    def send(self, message: OutboundMessage, *, idempotency_key: str) -> str:
        """Send one email in one attempt; returns the provider's message id."""
        raise NotImplementedError

    def send_batch(self, messages: list[OutboundMessage], *, idempotency_key: str) -> list[BatchResult]:
        """Send up to `batch_size` emails (without attachments) in one attempt; one result per message, in
        order. The call as a whole raises a `ProviderError` like `send`; one email refused alone is a result.
        """
        raise NotImplementedError(f"{self.provider_name} sends one email per request (batch_size 1).")

    # Webhooks: the provider posts what happened to its emails, signed. No API key is involved, so these
    # are class methods; `secret` is the integration's webhook setting (its type definition names it).

    @classmethod
    def verify_webhook(cls, secret: str, headers, body: bytes) -> None:
        """Raise `WebhookSignatureError` unless the raw `body` was signed with `secret`, recently."""
        raise WebhookSignatureError(f"{cls.provider_name} webhooks are not supported.")

    @classmethod
    def parse_webhook(cls, headers, body: bytes) -> WebhookBatch:
        """The events of a verified request (`MalformedWebhook` when it is not what the provider sends)."""
        raise NotImplementedError

    # Hooks for provider modules ------------------------------------------------------------------

    def _next_page(self, page: dict, items: list) -> tuple[str, dict] | None:
        """(path, params) of the templates page after `page`, or None when it was the last."""
        return None

    def _lists_template(self, item) -> bool:
        """Whether a listed item is a template we can use (a provider may list kinds we cannot)."""
        return True

    def _template(self, item) -> ProviderTemplate:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise self._bad_response("a template without an id")
        dated_by = self.template_timestamp_field
        try:
            created_at = parse_timestamp(item.get(dated_by))
        except ValueError:
            raise self._bad_response(f"template {item['id']} has no readable {dated_by}") from None
        return ProviderTemplate(id=item["id"], name=str(item.get("name") or ""), created_at=created_at)

    def _message_id(self, value, where: str) -> str:
        """The provider's id for an email it accepted, or `ProviderBadResponse` (not retried: the provider may
        well have the email) when there is none, or one longer than the Email Log keeps."""
        if not isinstance(value, str) or not value.strip():
            raise self._bad_response(f"no message id in {where}")
        if len(value) > MAX_MESSAGE_ID or "\x00" in value:
            raise self._bad_response(f"a message id of {len(value)} characters in {where} (at most {MAX_MESSAGE_ID} are kept)")
        return value
