"""The base of every service client: the session, timeouts, the outbound-URL guard, no redirects, error mapping
into the one error family (`exceptions.py`), and scrubbing every credential the client holds out of any text.

A client module only translates: our request into the service's HTTP call, and its answer into a result or a
`ProviderError`. What varies by service is declared on the class (`success_flag`, `error_codes`, `guarded`...)
and read here; nothing below names a service. Each public call makes one attempt; callers decide on retries
from the raised error's `retryable` and `retry_after`.
"""

import logging
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
import urllib3
from requests_hardened.ip_filter import InvalidIPAddress

from .exceptions import (
    OutboundAddressRefused,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderResourceError,
    ProviderTimeout,
    ProviderUnavailable,
)
from .sessions import session_for

logger = logging.getLogger("integrations.providers")

REDACTED = "[redacted]"
MAX_DETAIL = 300  # characters of a service's error text kept in our messages
# An API answer, never a file (files are streamed by their callers): a larger one is refused unread, so an
# endpoint a user typed cannot fill a worker's memory.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
_READ_BYTES = 64 * 1024
_BEARER = re.compile(r"(?i)(bearer)\s+[^\s\"',;]+")
_USABLE_CREDENTIAL = re.compile(r"[\x21-\x7e]+")  # printable ASCII without spaces: what a header can carry
_DEFAULT_HEADERS = {"Accept": "application/json", "User-Agent": "opbox-integrations"}


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


class Secret:
    """Holds a credential so that no repr, `vars()` dump or error reporter's locals view shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return REDACTED


class BearerAuth(requests.auth.AuthBase):
    """Sets `Authorization: Bearer <credential>`; as an `auth` object it also keeps `.netrc` from replacing it."""

    def __init__(self, credential: Secret):
        self._credential = credential

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._credential.value}"
        return request

    def __repr__(self) -> str:
        return f"<BearerAuth {REDACTED}>"


@dataclass(frozen=True)
class CheckResult:
    """A passed connection check: one sentence a person can act on, and what the check listed, if anything."""

    detail: str
    templates: list | None = field(default=None)


class ServiceClient:
    """One `requests` session (shared per thread), `base_url`, a timeout on every call, one credential.

    Declarations subclasses set:
    - `provider_name`: the service's name in messages; `credential_name`/`credential_label`: the credential it
      authenticates with ("apiKey", "API key"), named in a refusal's message;
    - `guarded`: `base_url` was typed by a user, so the outbound-URL guard applies to it;
    - `success_flag`: a JSON field that a 2xx answer sets false to refuse (Slack's `ok`), with its `error` code;
    - `error_codes`: a service error code -> the exception it is (e.g. "invalid_auth" -> ProviderAuthError);
    - `check_proves`: what a passing `check()` proves, in words; `check_posts`: the check sends something the
      other side sees (a test event), so it is never run by the periodic re-check; `refreshes_tokens`: calls
      take their access token from an OAuth token source that can refresh it.
    """

    provider_name = "the service"
    authenticates = True  # every call carries the credential (False: a plain poster, or a signature instead)
    credential_name = "apiKey"
    credential_label = "API key"
    guarded = False
    success_flag = ""
    error_codes: dict[str, type[ProviderError]] = {}
    check_proves = ""
    check_posts = False
    refreshes_tokens = False
    # Receiving workspace events (SPEC §15; see events.py): the event types taken when the integration's config
    # names none (() : not a receiver), how many events one `deliver` call takes, whether any refusal but a 410
    # is worth retrying (an endpoint's own 4xx may be temporary), and whether a 410 means the endpoint is gone.
    default_events: tuple[str, ...] = ()
    delivery_batch = 1
    retries_any_refusal = False
    gone_disables = False

    def __init__(self, credential: str = "", *, base_url: str, timeout: float, session: requests.Session | None = None,
                 secrets: tuple[str, ...] = (), unsaved: bool = False):  # fmt: skip
        self._given_url = base_url or ""  # a URL a user typed is called exactly as typed (trailing slash and all)
        self.base_url = self._given_url.rstrip("/")
        self.timeout = float(timeout)
        # Surrounding whitespace is never part of a credential but often pasted with it.
        self._credential = Secret((credential or "").strip())
        # Every credential the client holds (a refresh token, a client secret...) is scrubbed from any text.
        self._secrets = [self._credential, *(Secret(value) for value in secrets if value)]
        self._session = session or session_for(False)
        self.unsaved = unsaved  # checking values typed into a form: messages say "the", not "the stored"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} base_url={self.base_url!r} timeout={self.timeout!r}>"

    # The connection check ------------------------------------------------------------------------

    @classmethod
    def from_values(cls, config: dict, credentials: dict, *, service_url: str, timeout: float, identity: dict,
                    unsaved: bool = False, tokens=None) -> "ServiceClient":  # fmt: skip
        """The client for an integration's values. `service_url` is the configured base URL of services whose
        URL is a setting; `identity` is {"id", "name", "type"} (id None before saving); `tokens` an OAuth token
        source for clients that refresh. Raises `MissingSetting` when a value the calls need is absent."""
        raise NotImplementedError

    @classmethod
    def posts_when_checked(cls, config: dict, credential_names) -> bool:
        """Whether checking an integration with this config and these stored credentials sends something."""
        return cls.check_posts

    def check(self) -> CheckResult:
        """Prove the credential and the resource the integration points at; raise a `ProviderError` naming what failed."""
        raise NotImplementedError

    def deliver(self, events: list) -> str:
        """Deliver `events` (at most `delivery_batch` `OutgoingEvent`s); returns what the service answered (an HTTP
        status or its code) or raises a `ProviderError`."""
        raise NotImplementedError

    # Hooks for client modules --------------------------------------------------------------------

    def _auth(self) -> requests.auth.AuthBase | None:
        """How each request authenticates: `Authorization: Bearer <credential>` unless the class says none."""
        return BearerAuth(self._credential) if self.authenticates else None

    def _error_details(self, payload, response: requests.Response) -> tuple[str, str]:
        """(machine-readable error code or "", human-readable text) from an error answer's parsed JSON."""
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            return payload["error"], str(payload.get("message") or payload.get("error_description") or "")
        return "", ""

    def _error_class(self, status: int, code: str) -> type[ProviderError]:
        """Which exception an error answer becomes: the declared service codes first, then the status."""
        if code in self.error_codes:
            return self.error_codes[code]
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

    @property
    def credential_phrase(self) -> str:
        return f"{'' if self.unsaved else 'stored '}{self.credential_label}"

    def _request(self, method: str, path: str = "", *, idempotent: bool | None = None, guarded: bool | None = None,
                 authenticated: bool = True, checks_flag: bool = True, **kwargs) -> requests.Response:  # fmt: skip
        """One HTTP call; returns a 2xx response (that the service did not refuse) or raises a `ProviderError`.

        `path` is relative to `base_url`, or an absolute URL on the same origin. `idempotent` (default: true
        for GET) says whether a call that may have reached the service is safe to repeat. `guarded` (default:
        the class's) applies the outbound-URL guard. `checks_flag=False` leaves a 2xx body unread (a streamed
        download: the caller reads it, and the service's `success_flag` refusal, itself).
        """
        if idempotent is None:
            idempotent = method.upper() in ("GET", "HEAD")
        guarded = self.guarded if guarded is None else guarded
        auth = self._auth() if authenticated else None
        if auth is not None and not _USABLE_CREDENTIAL.fullmatch(self._credential.value):
            # Checked before any I/O: requests would echo a malformed header value in its own error.
            raise self._error(ProviderAuthError, f"The {self.credential_phrase} is empty or malformed (spaces, non-ASCII).")
        url = self._url(path)
        session = session_for(True) if guarded else self._session
        started = time.monotonic()
        streamed = kwargs.pop("stream", False)
        failure = None
        try:
            headers = {**_DEFAULT_HEADERS, **kwargs.pop("headers", {})}
            response = session.request(
                method, url, auth=auth, headers=headers, timeout=self.timeout, allow_redirects=False, stream=True, **kwargs
            )
        except requests.RequestException as exc:
            failure = self._transport_error(exc, idempotent, url)
        if failure is None and not streamed:
            failure = self._read_answer(response, idempotent)
        if failure is not None:
            # Raised outside the `except` so the requests exception, whose request holds the
            # Authorization header, is not chained onto ours.
            raise failure
        logger.debug(
            "%s %s %s -> HTTP %s in %.0f ms",
            self.provider_name, method, self._scrub(response.url), response.status_code,
            (time.monotonic() - started) * 1000,
        )  # fmt: skip
        if not 200 <= response.status_code < 300:
            raise self._error_for(response)
        if self.success_flag and checks_flag:
            payload = _json_or_none(response)
            if isinstance(payload, dict) and payload.get(self.success_flag) is False:
                raise self._error_for(response, payload)
        return response

    def _read_answer(self, response: requests.Response, idempotent: bool) -> ProviderError | None:
        """Read an answer's body into `response.content`, or return why not: larger than MAX_ANSWER_BYTES, or
        not all there `timeout` after its headers. requests' own timeout bounds each read, not the body: an
        endpoint sending a byte a second would hold the worker for as long as it liked."""
        deadline = time.monotonic() + self.timeout
        parts, size, failure = [], 0, None
        try:
            while failure is None and (part := response.raw.read1(_READ_BYTES, decode_content=True)):  # one socket read
                parts.append(part)
                size += len(part)
                if size > MAX_ANSWER_BYTES:
                    failure = self._bad_response(f"an answer larger than {MAX_ANSWER_BYTES // 2**20} MiB")
                elif time.monotonic() > deadline:
                    name = self.provider_name
                    failure = self._error(ProviderTimeout, f"{name} did not send its whole answer within {self.timeout:g} s.",
                                          retryable=idempotent)  # fmt: skip
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            failure = self._body_error(exc, idempotent)
        if failure is None:
            response._content, response._content_consumed = b"".join(parts), True
        # Read to its end, the connection goes back to the pool; with the rest unread, it is dropped.
        response.close()
        return failure

    def _body_chunks(self, response: requests.Response, chunk_size: int, *, idempotent: bool) -> Iterator[bytes]:
        """A streamed answer's body, chunk by chunk as the caller reads it. A connection that stalls or breaks
        after the headers raises a `ProviderError`, as one before them does in `_request`: requests raises
        its own exceptions from inside the body."""
        chunks = response.iter_content(chunk_size)
        while True:
            failure = None
            try:
                chunk = next(chunks, None)
            except requests.RequestException as exc:
                failure = self._body_error(exc, idempotent)
            if failure is not None:
                raise failure  # outside the `except`, as in `_request`
            if chunk is None:
                return
            yield chunk

    def _body_error(self, exc: Exception, idempotent: bool) -> ProviderError:
        """What a failure while reading a body means: requests' exception (wrapping urllib3's) or urllib3's own."""
        name, kind = self.provider_name, type(exc).__name__
        logger.debug("%s transport error in the body: %s", name, self._scrub(f"{kind}: {exc}"))
        cause = exc.args[0] if isinstance(exc, requests.RequestException) and exc.args else exc
        if isinstance(cause, urllib3.exceptions.ReadTimeoutError):
            return self._error(
                ProviderTimeout, f"{name} stopped sending its answer for {self.timeout:g} s.", retryable=idempotent
            )
        return self._error(ProviderUnavailable, f"{name}'s answer broke off before its end ({kind}).", retryable=idempotent)

    def _url(self, path: str) -> str:
        if not path:
            return self._given_url
        if not path.startswith(("http://", "https://")):
            return self.base_url + "/" + path.lstrip("/")
        ours, theirs = urlsplit(self.base_url), urlsplit(path)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            # The credential goes with every request: never to a host other than the configured one.
            raise self._bad_response(f"a link to another host ({theirs.netloc})")
        return path

    def _json(self, response: requests.Response) -> dict:
        """The body of a success answer as a JSON object, or `ProviderBadResponse`."""
        payload = _json_or_none(response)
        if not isinstance(payload, dict):
            raise self._bad_response(f"the body of its HTTP {response.status_code} answer is not a JSON object")
        return payload

    def _bad_response(self, why: str) -> ProviderBadResponse:
        return self._error(ProviderBadResponse, f"{self.provider_name} sent an unexpected answer: {why}.")

    def _resource_error(self, text: str) -> ProviderResourceError:
        """The credential works, but what it points at does not (a missing folder, table or channel)."""
        return self._error(ProviderResourceError, text)

    def _transport_error(self, exc: requests.RequestException, idempotent: bool, url: str) -> ProviderError:
        name, kind = self.provider_name, type(exc).__name__
        logger.debug("%s transport error: %s", name, self._scrub(f"{kind}: {exc}"))
        limit = f"{self.timeout:g} s"
        if isinstance(exc, InvalidIPAddress):
            host = urlsplit(url).hostname or url
            return self._error(
                OutboundAddressRefused,
                # Not the address itself: a workspace could map the names of our private network one by one.
                f"Refused to call {host}: it resolves to a loopback, private, link-local or reserved address, "
                "and outbound calls never go to private networks.",
            )
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

    def _error_for(self, response: requests.Response, payload=None) -> ProviderError:
        status, name = response.status_code, self.provider_name
        if 300 <= status < 400:
            return self._bad_response(f"a redirect (HTTP {status}), which is never followed; check the configured URL")
        if payload is None:
            payload = _json_or_none(response)
        code, detail = self._error_details(payload, response)
        if status >= 300 and not detail and not response.text.lstrip().startswith("<"):  # an HTML page says nothing useful
            detail = response.text
        detail = " ".join(str(detail or (response.reason if status >= 300 else "") or "").split())
        detail = self._scrub(detail)[:MAX_DETAIL]
        # Not the detail: it may name recipients, and it reaches the caller in the error anyway.
        logger.debug("%s answered HTTP %s (%s)", name, status, code or "no code")
        cls = self._error_class(status, code)
        retry_after = self._retry_after(response)
        said = detail or code
        where = (f"HTTP {status}" + (f": {said}" if said else "")) if status >= 300 else (said or f"HTTP {status}")
        message = {
            ProviderAuthError: f"The {self.credential_phrase} was rejected by {name} ({where}).",
            ProviderRateLimited: f"{name} rate limit reached ({where}).",
            ProviderQuotaExceeded: f"{name} quota exceeded ({where}).",
            ProviderUnavailable: f"{name} is unavailable ({where}).",
        }.get(cls, f"{name} refused the request ({where}).")
        if cls is ProviderRateLimited and retry_after is not None:
            message = message[:-1] + f"; retry after {retry_after:g} s."
        return self._error(cls, message, status_code=status, retry_after=retry_after, code=code)

    def _error(self, cls: type[ProviderError], message: str, **kwargs) -> ProviderError:
        return cls(self._scrub(message), provider=self.provider_name, credential=self.credential_name, **kwargs)

    def _held_secrets(self) -> list[Secret]:
        return self._secrets

    def _scrub(self, text: str) -> str:
        """`text` without any credential the client holds, or any bearer token, whatever echoed them."""
        for secret in self._held_secrets():
            if secret.value:
                text = text.replace(secret.value, REDACTED)
        return _BEARER.sub(rf"\1 {REDACTED}", text)


def _json_or_none(response: requests.Response):
    try:
        return response.json()
    except (ValueError, RecursionError):  # nested deeper than Python's parser goes: as unreadable as bad JSON
        return None


def _may_have_been_received(exc: requests.ConnectionError) -> bool:
    """False only when the connection was never established (refused, DNS failure)."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(reason, urllib3.exceptions.NewConnectionError)
