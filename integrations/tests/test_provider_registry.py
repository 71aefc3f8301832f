"""One registry of the email providers, and the capabilities generic code reads from their client classes."""

import pytest

from integrations.providers import (
    PROVIDERS,
    EmailProviderClient,
    ResendClient,
    SendGridClient,
    client_for,
    provider_for_slug,
    provider_for_type,
)
from integrations.types import EMAIL_PROVIDER_TYPES


def test_every_email_type_has_exactly_one_provider_and_each_slug_names_it():
    assert sorted(provider.type for provider in PROVIDERS) == sorted(EMAIL_PROVIDER_TYPES)
    for provider in PROVIDERS:
        assert provider_for_type(provider.type) is provider is provider_for_slug(provider.slug)
        assert issubclass(provider.client_class, EmailProviderClient)


def test_client_for_builds_the_registered_client_on_its_configured_url(settings):
    settings.EMAIL_PROVIDER_B_API_URL = "https://sendgrid.internal.example/"

    client = client_for("EMAIL_PROVIDER_ALT", "SG.key_0123456789")

    assert type(client) is provider_for_type("EMAIL_PROVIDER_ALT").client_class is SendGridClient
    assert client.base_url == "https://sendgrid.internal.example"


def test_only_resend_makes_a_repeated_send_safe_and_batches():
    assert (ResendClient.idempotent_sends, ResendClient.batch_size) == (True, 100)
    assert (SendGridClient.idempotent_sends, SendGridClient.batch_size) == (False, 1)
    assert provider_for_slug("email-provider-a").client_class.idempotent_sends


@pytest.mark.parametrize("lookup, value", [(provider_for_type, "SLACK"), (provider_for_slug, "email-provider-c")])
def test_anything_else_is_not_a_provider(lookup, value):
    with pytest.raises(ValueError, match=value):
        lookup(value)


def test_each_provider_is_named_by_its_type_and_the_api_it_speaks():
    assert [provider.display_name for provider in PROVIDERS] == ["Email provider A (Resend)", "Email provider B (SendGrid)"]
