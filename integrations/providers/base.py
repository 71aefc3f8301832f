"""What every email provider client shares: the HTTP session, timeouts, error mapping and key scrubbing.

A provider module only translates: our `OutboundMessage` into its JSON, and its answers into
`ProviderTemplate`s and message ids. Each public call makes one attempt; the caller decides on retries
from the raised error's `retryable` and `retry_after`.
"""

import base64
import logging
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import urllib3

from .exceptions import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    WebhookSignatureError,
)
from .webhooks import WebhookBatch

logger = logging.getLogger("integrations.providers")

REDACTED = "[redacted]"
MAX_PAGES = 100  # far above any real account (Resend pages hold 100, SendGrid allows 300 templates)
MAX_DETAIL = 300  # characters of a provider's error text kept in our messages
MAX_MESSAGE_ID = 255  # characters of a provider's message id the Email Log keeps (its Message ID column)
_BEARER = re.compile(r"(?i)(bearer)\s+[^\s\"',;]+")
_USABLE_KEY = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what a header can carry


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
    return parsed.astimezone(UTC)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date); None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


class _Secret:
    """Holds the API key so that no repr, `vars()` dump or error reporter's locals view shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return REDACTED


class _BearerAuth(requests.auth.AuthBase):
    """Sets `Authorization: Bearer <key>`; as an `auth` object it also keeps `.netrc` from replacing it."""

    def __init__(self, api_key: _Secret):
        self._api_key = api_key

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._api_key.value}"
        return request

    def __repr__(self) -> str:
        return f"<BearerAuth {REDACTED}>"


_DEFAULT_HEADERS = {"Accept": "application/json", "User-Agent": "opbox-integrations"}


class EmailProviderClient:
    """Base of the provider clients: one `requests.Session`, `base_url`, a timeout on every call.

    Capabilities are class attributes that generic code (sending, recovery) reads instead of asking
    which provider this is.
    """

    provider_name = "the email provider"
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

    def __init__(self, api_key: str, *, base_url: str, timeout: float, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        # Surrounding whitespace is never part of a key but often pasted with it.
        self._api_key = _Secret((api_key or "").strip())
        # Auth and headers go with each request, not on the session, so one session can serve many keys.
        self._auth = _BearerAuth(self._api_key)
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self.base_url!r} timeout={self.timeout!r}>"

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

    def _error_details(self, payload, response: requests.Response) -> tuple[str, str]:
        """(machine-readable error code or "", human-readable text) from an error answer's parsed JSON."""
        return "", ""

    def _error_class(self, status: int, code: str) -> type[ProviderError]:
        """Which exception an error answer becomes; providers refine it with their error codes."""
        if status in (401, 403):
            return ProviderAuthError
        if status == 429:
            return ProviderRateLimited
        if status >= 500:
            return ProviderUnavailable
        return ProviderRejected

    def _retry_after(self, response: requests.Response) -> float | None:
        return parse_retry_after(response.headers.get("Retry-After"))

    # Shared HTTP -----------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs) -> requests.Response:
        """One HTTP call; returns a 2xx response or raises a `ProviderError`.

        `path` is relative to `base_url`, or an absolute URL on the same origin. `idempotent` (default: true
        for GET) says whether a call that may have reached the provider is safe to repeat.
        """
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD")
        if not _USABLE_KEY.fullmatch(self._api_key.value):
            # Checked before any I/O: requests would echo a malformed header value in its own error.
            raise self._error(ProviderAuthError, "The stored API key is empty or malformed (spaces, non-ASCII).")
        url = self._url(path)
        started = time.monotonic()
        failure = None
        try:
            headers = {**_DEFAULT_HEADERS, **kwargs.pop("headers", {})}
            response = self._session.request(
                method, url, auth=self._auth, headers=headers, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            failure = self._transport_error(exc, idempotent)
        if failure is not None:
            # Raised outside the `except` so the requests exception, whose request holds the
            # Authorization header, is not chained onto ours.
            raise failure
        logger.debug(
            "%s %s %s -> HTTP %s in %.0f ms",
            self.provider_name, method, self._scrub(response.url), response.status_code,
            (time.monotonic() - started) * 1000,
        )
        if not 200 <= response.status_code < 300:
            raise self._error_for(response)
        return response

    def _url(self, path: str) -> str:
        if not path.startswith(("http://", "https://")):
            return self.base_url + "/" + path.lstrip("/")
        ours, theirs = urlsplit(self.base_url), urlsplit(path)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            # The key goes with every request: never to a host other than the configured one.
            raise self._bad_response(f"a link to another host ({theirs.netloc})")
        return path

    def _json(self, response: requests.Response) -> dict:
        """The body of a success answer as a JSON object, or `ProviderBadResponse`."""
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise self._bad_response(f"the body of its HTTP {response.status_code} answer is not a JSON object")
        return payload

    def _message_id(self, value, where: str) -> str:
        """The provider's id for an email it accepted, or `ProviderBadResponse` (not retried: the provider may
        well have the email) when there is none, or one longer than the Email Log keeps."""
        if not isinstance(value, str) or not value.strip():
            raise self._bad_response(f"no message id in {where}")
        if len(value) > MAX_MESSAGE_ID or "\x00" in value:
            raise self._bad_response(f"a message id of {len(value)} characters in {where} (at most {MAX_MESSAGE_ID} are kept)")
        return value

    def _bad_response(self, why: str) -> ProviderBadResponse:
        return self._error(ProviderBadResponse, f"{self.provider_name} sent an unexpected answer: {why}.")

    def _transport_error(self, exc: requests.RequestException, idempotent: bool) -> ProviderError:
        name, kind = self.provider_name, type(exc).__name__
        logger.debug("%s transport error: %s", name, self._scrub(f"{kind}: {exc}"))
        limit = f"{self.timeout:g} s"
        if isinstance(exc, requests.ConnectTimeout):
            # No connection means nothing was received: always safe to try again.
            return self._error(ProviderTimeout, f"{name} could not be reached within {limit}.", retryable=True)
        if isinstance(exc, requests.Timeout):
            return self._error(ProviderTimeout, f"{name} did not answer within {limit}.", retryable=idempotent)
        if isinstance(exc, requests.ConnectionError):
            # A reset after the request went out may have been acted on; repeat only idempotent calls.
            retryable = idempotent or not _may_have_been_received(exc)
            return self._error(ProviderUnavailable, f"Could not connect to {name} ({kind}).", retryable=retryable)
        return self._error(ProviderUnavailable, f"The request to {name} failed ({kind}).", retryable=idempotent)

    def _error_for(self, response: requests.Response) -> ProviderError:
        status, name = response.status_code, self.provider_name
        if 300 <= status < 400:
            return self._bad_response(f"a redirect (HTTP {status}); check the configured API URL")
        try:
            payload = response.json()
        except ValueError:
            payload = None
        code, detail = self._error_details(payload, response)
        if not detail and not response.text.lstrip().startswith("<"):  # an HTML error page says nothing useful
            detail = response.text
        detail = " ".join(str(detail or response.reason or "").split())
        detail = self._scrub(detail)[:MAX_DETAIL]
        logger.debug("%s answered HTTP %s (%s): %s", name, status, code or "no code", detail)
        cls = self._error_class(status, code)
        retry_after = self._retry_after(response)
        suffix = f": {detail}" if detail else ""
        message = {
            ProviderAuthError: f"The stored API key was rejected by {name} (HTTP {status}{suffix}).",
            ProviderRateLimited: f"{name} rate limit reached (HTTP {status}{suffix}).",
            ProviderQuotaExceeded: f"{name} sending quota exceeded (HTTP {status}{suffix}).",
            ProviderUnavailable: f"{name} is unavailable (HTTP {status}{suffix}).",
        }.get(cls, f"{name} refused the request (HTTP {status}{suffix}).")
        if cls is ProviderRateLimited and retry_after is not None:
            message = message[:-1] + f"; retry after {retry_after:g} s."
        return self._error(cls, message, status_code=status, retry_after=retry_after)

    def _error(self, cls: type[ProviderError], message: str, **kwargs) -> ProviderError:
        return cls(self._scrub(message), provider=self.provider_name, **kwargs)

    def _scrub(self, text: str) -> str:
        """`text` without the API key or any bearer token, whatever echoed them."""
        if self._api_key.value:
            text = text.replace(self._api_key.value, REDACTED)
        return _BEARER.sub(rf"\1 {REDACTED}", text)


def _may_have_been_received(exc: requests.ConnectionError) -> bool:
    """False only when the connection was never established (refused, DNS failure)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(reason, urllib3.exceptions.NewConnectionError)
