"""Email provider clients: type EMAIL_PROVIDER speaks the Resend API, EMAIL_PROVIDER_ALT the SendGrid v3 API.

`PROVIDERS` (in `registry.py`) is the one list of them; capabilities live on the client classes.
"""

from .base import Attachment, BatchResult, EmailProviderClient, OutboundMessage, ProviderTemplate
from .exceptions import (
    MalformedWebhook,
    ProviderAuthError,
    ProviderBadResponse,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    WebhookError,
    WebhookSignatureError,
)
from .registry import PROVIDERS, EmailProvider, client_for, provider_for_slug, provider_for_type
from .resend import ResendClient
from .sendgrid import SendGridClient
from .webhooks import EVENT_TYPES, WebhookBatch, WebhookEvent

__all__ = [
    "EVENT_TYPES",
    "PROVIDERS",
    "Attachment",
    "BatchResult",
    "EmailProvider",
    "EmailProviderClient",
    "MalformedWebhook",
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
    "WebhookBatch",
    "WebhookError",
    "WebhookEvent",
    "WebhookSignatureError",
    "client_for",
    "provider_for_slug",
    "provider_for_type",
]
