import pytest
import responses

from scripts.fake_providers import serve_in_thread

from .signing import RESEND_SECRET, SendGridSigner

PROVIDER_A = "https://provider-a.test"
PROVIDER_B = "https://provider-b.test"
KEY_A = "re_CANARY_a1b2c3d4e5f6a7b8"
KEY_B = "SG.CANARY_b1b2c3d4e5f6a7b8"


@pytest.fixture(autouse=True)
def no_backoff(settings):
    # Retries still happen; only the waiting between them is skipped.
    settings.EMAIL_SEND_MAX_BACKOFF = 0


@pytest.fixture
def fake_provider(settings):
    """The local fake of provider A over HTTP (scripts/fake_providers.py): like Resend, it sends a batch
    once per Idempotency-Key. Yields its base URL."""
    server, url = serve_in_thread()
    settings.EMAIL_PROVIDER_A_API_URL = f"{url}/a"
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def provider():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def site_provider_a(make_integration):
    return make_integration(
        "EMAIL_PROVIDER",
        name="Production Email",
        config={"fromEmail": "noreply@acme.example", "fromName": "Acme Legal"},
        credentials={"apiKey": KEY_A},
        set_as_site_email_provider=True,
    )


@pytest.fixture
def provider_b(make_integration):
    return make_integration(
        "EMAIL_PROVIDER_ALT",
        name="Marketing Email",
        config={"fromEmail": "hello@acme.example", "fromName": "Acme"},
        credentials={"apiKey": KEY_B},
    )


def resend_accepts(mock, message_id="4ef9a417-02e9-4d39-ad75-9611e0fcc33c"):
    mock.add(responses.POST, f"{PROVIDER_A}/emails", json={"id": message_id}, status=200)


def sendgrid_accepts(mock, message_id="14c5d75ce93.dfd.64b469.filter0001"):
    mock.add(responses.POST, f"{PROVIDER_B}/v3/mail/send", status=202, body="", headers={"X-Message-Id": message_id})


# Webhooks: email integrations with their webhook settings (see signing.py for the signatures).


@pytest.fixture
def signer():
    return SendGridSigner()


@pytest.fixture
def hooked_a(make_integration):
    return make_integration(
        "EMAIL_PROVIDER", name="Resend", credentials={"apiKey": "re_test_1234567890abcdef", "webhookSigningSecret": RESEND_SECRET}
    )


@pytest.fixture
def hooked_b(make_integration, signer):
    config = {"fromEmail": "noreply@acme.example", "webhookVerificationKey": signer.verification_key}
    return make_integration("EMAIL_PROVIDER_ALT", name="SendGrid", config=config)
