"""The one registry of email providers: which integration type speaks which API, under which slug and name.

Code outside this package asks the registry (or the client class's capabilities), never compares slugs.
"""

from dataclasses import dataclass

from django.conf import settings

from ..types import IntegrationType
from .base import EmailProviderClient
from .resend import ResendClient
from .sendgrid import SendGridClient
from .sessions import session_for


@dataclass(frozen=True)
class EmailProvider:
    type: str  # the integration type, e.g. "EMAIL_PROVIDER"
    slug: str  # in URLs and on Email Log rows, e.g. "email-provider-a"
    display_name: str  # e.g. "Email provider A (Resend)"
    client_class: type[EmailProviderClient]
    url_setting: str  # the setting holding the API's base URL
    rate_setting: str  # the setting holding the account's provider calls per second (None: unpaced)

    @property
    def requests_per_second(self) -> float | None:
        """The configured pace of one integration's calls, read now (not at import); None when unpaced."""
        return getattr(settings, self.rate_setting, None) or None

    @property
    def webhook_route(self) -> str:
        """The URL name of the receiver of this provider's webhooks (routed in email_logs/urls.py)."""
        return f"{self.slug}-webhook"


def _provider(type_: IntegrationType, slug: str, client_class: type[EmailProviderClient], setting_prefix: str):
    # The name joins the type's label and the API the client speaks: "Email provider A (Resend)".
    name = f"{type_.label} ({client_class.provider_name})"
    return EmailProvider(
        type_.value, slug, name, client_class, f"{setting_prefix}_API_URL", f"{setting_prefix}_REQUESTS_PER_SECOND"
    )


PROVIDERS: tuple[EmailProvider, ...] = (
    _provider(IntegrationType.EMAIL_PROVIDER, "email-provider-a", ResendClient, "EMAIL_PROVIDER_A"),
    _provider(IntegrationType.EMAIL_PROVIDER_ALT, "email-provider-b", SendGridClient, "EMAIL_PROVIDER_B"),
)

_BY_TYPE = {provider.type: provider for provider in PROVIDERS}
_BY_SLUG = {provider.slug: provider for provider in PROVIDERS}


def provider_for_type(integration_type) -> EmailProvider:
    """The provider behind an email integration type; ValueError for any other type."""
    try:
        return _BY_TYPE[str(integration_type)]
    except KeyError:
        raise ValueError(f"{integration_type!r} is not an email provider type: {', '.join(_BY_TYPE)}.") from None


def provider_for_slug(slug: str) -> EmailProvider:
    """The provider a slug names (as stored on Email Log rows); ValueError for an unknown slug."""
    try:
        return _BY_SLUG[slug]
    except KeyError:
        raise ValueError(f"{slug!r} is not an email provider slug: {', '.join(_BY_SLUG)}.") from None


def client_for(integration_type, api_key: str) -> EmailProviderClient:
    """The client for an email integration type, on the base URL and timeout configured now (not at import)."""
    provider = provider_for_type(integration_type)
    return provider.client_class(
        api_key,
        base_url=getattr(settings, provider.url_setting),
        timeout=float(settings.EMAIL_PROVIDER_TIMEOUT),
        session=session_for(False),
    )
