"""One exception family for every service client: callers catch `ProviderError` and read its attributes.

Messages are written by the client after scrubbing, so they never contain the API key; none of these
exceptions keeps a reference to the `requests` request or response (which carry the Authorization header).
As application errors they carry the status the API answers with: 502 (the provider failed us), 504 (no answer).
"""

from opbox.errors import ApplicationError


class ProviderError(ApplicationError):
    """A provider call failed. `retryable` says whether the same call may be tried again unchanged;
    `status_code` is the provider's HTTP status (None when it never answered).
    """

    http_status = 502
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status_code: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
        credential: str = "apiKey",
        code: str = "",
    ):
        super().__init__(message)
        self.code = code  # the service's own error code ("channel_not_found"), when it gave one
        self.message = message
        self.provider = provider
        self.credential = credential  # the integration's credential a refusal concerns
        self.status_code = status_code
        self.retry_after = retry_after
        if retryable is not None:  # a per-instance answer overrides the class default
            self.retryable = retryable

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, status_code={self.status_code!r}, "
            f"retryable={self.retryable!r}, retry_after={self.retry_after!r})"
        )


class ProviderAuthError(ProviderError):
    """The service answered 401/403 (or its own "invalid_auth"): the credential was rejected (or lacks the permission)."""

    @property
    def detail(self) -> str:
        return f"{self} Update the integration's {self.credential}."


class ProviderTimeout(ProviderError):
    """No answer within the timeout (connect or read); retryable only when repeating cannot send twice."""

    http_status = 504


class ProviderUnavailable(ProviderError):
    """A 5xx answer or a broken connection; worth trying again later."""

    retryable = True


class ProviderRateLimited(ProviderError):
    """A 429 rate limit; `retry_after` (seconds) says when to try again, when the provider said so."""

    retryable = True


class ProviderQuotaExceeded(ProviderError):
    """A 429 that is a daily or monthly sending quota: waiting seconds will not help."""


class ProviderRejected(ProviderError):
    """The provider refused the request (4xx, e.g. a validation error); the message carries its reason."""


class ProviderResourceError(ProviderError):
    """The credential works, but what the integration points at does not: a missing folder, table or channel, a
    bot that is not in its channel, a token of another account. The message names what failed."""


class OutboundAddressRefused(ProviderError):
    """The outbound-URL guard refused the call: the host resolved to a loopback, private or reserved address."""


class ProviderBadResponse(ProviderError):
    """A success status with a body we cannot use (not JSON, or missing the fields we need)."""


class InvalidGrant(ProviderAuthError):
    """The token endpoint refused the refresh token (`invalid_grant`): only a new consent brings it back."""

    @property
    def detail(self) -> str:
        return f"{self} Reconnect: store a new refresh token (and access token) from a fresh consent."


class MissingSetting(ApplicationError):
    """Nothing to check with: the integration lacks the value a call needs (the message names it): 409."""

    http_status = 409


class OAuthNotConfigured(ApplicationError):
    """The deployment lacks the OAuth client settings a token refresh needs (named in the message): 503,
    a deploy to fix, not a request to change."""

    http_status = 503


class WebhookError(ApplicationError):
    """A provider's webhook request that is refused; nothing of it is applied."""

    http_status = 400


class WebhookSignatureError(WebhookError):
    """Not signed by the provider with the integration's secret (or signed too long ago).

    One answer for every cause, so a caller learns nothing about which integrations exist or are set up;
    the message (for logs) says which check failed and never holds the secret.
    """

    http_status = 401

    @property
    def detail(self) -> str:
        return "Invalid signature."


class MalformedWebhook(WebhookError):
    """A correctly signed body that is not what the provider sends (the message says what is wrong)."""
