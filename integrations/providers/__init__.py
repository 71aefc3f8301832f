"""Email provider clients: type EMAIL_PROVIDER speaks the Resend API, EMAIL_PROVIDER_ALT the SendGrid v3 API.

`PROVIDERS` (in `registry.py`) is the one list of them; capabilities live on the client classes.
"""

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
from .registry import PROVIDERS, EmailProvider, client_for, provider_for_slug, provider_for_type
from .resend import ResendClient
from .sendgrid import SendGridClient

__all__ = [
    "PROVIDERS",
    "Attachment",
    "EmailProvider",
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
    "provider_for_slug",
    "provider_for_type",
]
