"""Service clients, one module per service, under one base (`client.ServiceClient`): Resend and SendGrid
(the email types), Carbone, Slack, Airtable, HubSpot, Google Drive, a Standard Webhooks sender and a plain poster.

`connector_for(type)` (in `registry.py`) gives each integration type's connector, `PROVIDERS` the email providers;
capabilities and each service's quirks live on the client classes.
"""

from .base import Attachment, BatchResult, EmailProviderClient, OutboundMessage, ProviderTemplate
from .client import CheckResult, ServiceClient
from .exceptions import (
    InvalidGrant,
    MalformedWebhook,
    MissingSetting,
    OAuthNotConfigured,
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
    WebhookError,
    WebhookSignatureError,
)
from .registry import (
    CONNECTORS,
    PROVIDERS,
    Connector,
    EmailProvider,
    client_for,
    connector_for,
    provider_for_slug,
    provider_for_type,
)
from .resend import ResendClient
from .sendgrid import SendGridClient
from .webhooks import EVENT_TYPES, WebhookBatch, WebhookEvent

__all__ = [
    "CONNECTORS",
    "EVENT_TYPES",
    "PROVIDERS",
    "Attachment",
    "BatchResult",
    "CheckResult",
    "Connector",
    "EmailProvider",
    "EmailProviderClient",
    "InvalidGrant",
    "MalformedWebhook",
    "MissingSetting",
    "OAuthNotConfigured",
    "OutboundAddressRefused",
    "OutboundMessage",
    "ProviderAuthError",
    "ProviderBadResponse",
    "ProviderError",
    "ProviderQuotaExceeded",
    "ProviderRateLimited",
    "ProviderRejected",
    "ProviderResourceError",
    "ProviderTemplate",
    "ProviderTimeout",
    "ProviderUnavailable",
    "ResendClient",
    "SendGridClient",
    "ServiceClient",
    "WebhookBatch",
    "WebhookError",
    "WebhookEvent",
    "WebhookSignatureError",
    "client_for",
    "connector_for",
    "provider_for_slug",
    "provider_for_type",
]
