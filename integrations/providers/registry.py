"""The registries: the connector of each of the nine integration types (`connector_for`), and the email
providers among them with their slugs and names (`PROVIDERS`).

Code outside this package asks the registry (or the client class's declarations), never compares types or slugs.
"""

from dataclasses import dataclass

from django.conf import settings

from ..types import IntegrationType
from .airtable import AirtableClient
from .base import EmailProviderClient
from .carbone import CarboneClient
from .client import ServiceClient
from .google_drive import GoogleDriveClient
from .hubspot import HubSpotClient
from .resend import ResendClient
from .sendgrid import SendGridClient
from .sessions import session_for
from .slack import SlackClient
from .standard_webhooks import StandardWebhookSender
from .webhook_platform import PlatformWebhookPoster


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


@dataclass(frozen=True)
class Connector:
    """How Opbox talks to the service of one integration type: its client class (which declares the check, what
    it proves and the service's quirks), where the service's URL and pace come from, and its timeout."""

    type: str
    client_class: type[ServiceClient]
    rate_setting: str = ""  # calls per second of one integration, shared by every worker (unset or 0: unpaced)
    url_setting: str = ""  # the service's base URL, when it is a setting rather than the integration's config
    timeout_setting: str = "INTEGRATION_REQUEST_TIMEOUT"

    @property
    def requests_per_second(self) -> float | None:
        return (getattr(settings, self.rate_setting, None) or None) if self.rate_setting else None

    def client(self, config: dict, credentials: dict, *, identity: dict, unsaved: bool = False, tokens=None) -> ServiceClient:
        """The client for an integration's values, on the URLs and timeout configured now (not at import)."""
        return self.client_class.from_values(
            config, credentials, service_url=getattr(settings, self.url_setting) if self.url_setting else "",
            timeout=float(getattr(settings, self.timeout_setting)), identity=identity, unsaved=unsaved, tokens=tokens,
        )  # fmt: skip

    def posts_when_checked(self, config: dict, credential_names) -> bool:
        return self.client_class.posts_when_checked(config, set(credential_names))


CONNECTORS: dict[str, Connector] = {
    connector.type: connector
    for connector in (
        *(
            Connector(provider.type, provider.client_class, provider.rate_setting, provider.url_setting, "EMAIL_PROVIDER_TIMEOUT")
            for provider in PROVIDERS
        ),
        Connector(IntegrationType.DOCUMENT_ENGINE.value, CarboneClient),
        Connector(IntegrationType.WEBHOOK.value, StandardWebhookSender, "DELIVERY_WEBHOOK_REQUESTS_PER_SECOND"),
        Connector(IntegrationType.SLACK.value, SlackClient, "DELIVERY_SLACK_REQUESTS_PER_SECOND", "SLACK_API_URL"),
        Connector(IntegrationType.EXTERNAL_DATABASE.value, AirtableClient, "DELIVERY_EXTERNAL_DATABASE_REQUESTS_PER_SECOND"),
        Connector(IntegrationType.WEBHOOK_PLATFORM.value, PlatformWebhookPoster, "DELIVERY_WEBHOOK_PLATFORM_REQUESTS_PER_SECOND"),
        Connector(IntegrationType.CRM_PLATFORM.value, HubSpotClient, "DELIVERY_CRM_PLATFORM_REQUESTS_PER_SECOND", "HUBSPOT_API_URL"),
        Connector(IntegrationType.CLOUD_STORAGE.value, GoogleDriveClient, "DELIVERY_CLOUD_STORAGE_REQUESTS_PER_SECOND", "GOOGLE_DRIVE_API_URL"),
    )
}


def connector_for(integration_type) -> Connector:
    """The connector of an integration type (every one of the nine has one)."""
    return CONNECTORS[str(integration_type)]
