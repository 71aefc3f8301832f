"""Email provider clients: type EMAIL_PROVIDER speaks the Resend API, EMAIL_PROVIDER_ALT the SendGrid v3 API."""

import threading
from http.cookiejar import DefaultCookiePolicy

import requests
from django.conf import settings

from .base import Attachment, EmailProviderClient, OutboundMessage, ProviderTemplate
from .exceptions import (
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
)
from .resend import ResendClient
from .sendgrid import SendGridClient

PROVIDER_SLUG = {"EMAIL_PROVIDER": "email-provider-a", "EMAIL_PROVIDER_ALT": "email-provider-b"}

# Integration type -> (client class, name of the setting holding its base URL).
_CLIENTS = {
    "EMAIL_PROVIDER": (ResendClient, "EMAIL_PROVIDER_A_API_URL"),
    "EMAIL_PROVIDER_ALT": (SendGridClient, "EMAIL_PROVIDER_B_API_URL"),
}

__all__ = [
    "PROVIDER_SLUG",
    "Attachment",
    "EmailProviderClient",
    "OutboundMessage",
    "ProviderAuthError",
    "ProviderBadResponse",
    "ProviderError",
    "ProviderQuotaExceeded",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderTemplate",
    "ProviderTimeout",
    "ProviderUnavailable",
    "ResendClient",
    "SendGridClient",
    "client_for",
]


def client_for(integration_type: str, api_key: str) -> EmailProviderClient:
    """The client for an email integration type, on the base URL and timeout configured now (not at import)."""
    try:
        client_class, url_setting = _CLIENTS[str(integration_type)]
    except KeyError:
        raise ValueError(f"{integration_type!r} is not an email provider type: {', '.join(_CLIENTS)}.") from None
    return client_class(
        api_key, base_url=getattr(settings, url_setting), timeout=float(settings.EMAIL_PROVIDER_TIMEOUT), session=_pooled_session()
    )


_threads = threading.local()


def _pooled_session() -> requests.Session:
    """This thread's keep-alive session, shared by every client it makes: a worker sending many emails
    reuses its provider connections (and TLS sessions) instead of opening one per email.

    Safe to share between API keys: clients pass auth with each request, and no cookie is ever kept.
    """
    session = getattr(_threads, "session", None)
    if session is None:
        session = _threads.session = requests.Session()
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session
