"""Webhook settings of the email integrations (SPEC §9): the signing secret is an encrypted optional
credential, the verification key a config value checked when written; detail answers, the settings page
and the admin form show where to point the provider and when its last event came."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test import Client
from django.urls import resolve
from django.utils import timezone

from integrations.models import Integration
from workspaces.models import Role, User

pytestmark = pytest.mark.django_db

SIGNING_SECRET = "whsec_" + base64.b64encode(b"CANARY-signing-secret-0123456789").decode()


def public_key_b64(private_key) -> str:
    der = private_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


P256_KEY = public_key_b64(ec.generate_private_key(ec.SECP256R1()))


def email_body(type_name="EMAIL_PROVIDER", **extra):
    return {"name": "Email", "type": type_name, "config": {"fromEmail": "noreply@acme.example"},
            "credentials": {"apiKey": "key.a1b2c3d4e5f6g7h8"}, **extra}  # fmt: skip


def test_the_signing_secret_is_an_optional_encrypted_credential_shown_by_fingerprint(admin_api):
    body = email_body(credentials={"apiKey": "key.a1b2c3d4e5f6g7h8", "webhookSigningSecret": SIGNING_SECRET})

    created = admin_api.post("/api/integrations", body, format="json").json()

    assert created["config"]["webhookSigningSecretFingerprint"] == "whsec_Q0...****"
    assert created["credentialsConfigured"] is True
    assert SIGNING_SECRET not in str(created)
    stored = Integration.objects.get()
    assert stored.credentials["webhookSigningSecret"] == SIGNING_SECRET
    assert SIGNING_SECRET not in str(Integration.objects.values_list("credentials", flat=True).get())  # sealed at rest


def test_credentials_configured_counts_only_the_required_api_key(admin_api):
    without_secret = admin_api.post("/api/integrations", email_body(), format="json").json()
    only_secret = admin_api.post(
        "/api/integrations", email_body(credentials={"webhookSigningSecret": SIGNING_SECRET}), format="json"
    ).json()

    assert without_secret["credentialsConfigured"] is True
    assert only_secret["credentialsConfigured"] is False


def test_a_p256_verification_key_is_kept_as_config(admin_api):
    created = admin_api.post(
        "/api/integrations", email_body("EMAIL_PROVIDER_ALT", config={"fromEmail": "a@acme.example", "webhookVerificationKey": P256_KEY}),
        format="json",
    )  # fmt: skip

    assert created.status_code == 201
    assert created.json()["config"]["webhookVerificationKey"] == P256_KEY  # public: shown as it is


@pytest.mark.parametrize(
    "key",
    [
        "not base64!",
        base64.b64encode(b"base64, but no key").decode(),
        public_key_b64(ec.generate_private_key(ec.SECP384R1())),
        public_key_b64(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ],
    ids=["not base64", "not DER", "a P-384 key", "an RSA key"],
)
def test_anything_but_a_p256_public_key_is_a_400_naming_the_field_on_create_and_patch(admin_api, make_integration, key):
    created = admin_api.post(
        "/api/integrations", email_body("EMAIL_PROVIDER_ALT", config={"webhookVerificationKey": key}), format="json"
    )
    integration = make_integration("EMAIL_PROVIDER_ALT")
    patched = admin_api.patch(f"/api/integrations/{integration.pk}", {"config": {"webhookVerificationKey": key}}, format="json")

    for response in (created, patched):
        assert response.status_code == 400
        assert "webhookVerificationKey" in str(response.json()["config"])
    assert Integration.objects.count() == 1 and "webhookVerificationKey" not in Integration.objects.get().config


# Signing secrets the `standardwebhooks` library would take as a weak or empty HMAC key: `whsec_AA` is one byte,
# `whsec_!!!!` none at all (its lenient decode drops what is not base64).
WEAK_SIGNING_SECRETS = [
    pytest.param("whsec_AA", id="one byte"),
    pytest.param("whsec_!!!!", id="not base64"),
    pytest.param("whsec_" + base64.b64encode(b"x" * 23).decode(), id="23 bytes"),
    pytest.param(base64.b64encode(b"CANARY-no-prefix-secret-32-bytes").decode(), id="no whsec_ prefix"),
    pytest.param(SIGNING_SECRET.rstrip("="), id="padding cut off"),
    pytest.param(SIGNING_SECRET[:20] + " " + SIGNING_SECRET[20:], id="a space inside"),
    pytest.param(SIGNING_SECRET + "\u00e9", id="a character that is not ASCII"),
]


@pytest.mark.parametrize("secret", WEAK_SIGNING_SECRETS)
def test_a_signing_secret_that_is_not_whsec_and_24_bytes_of_base64_is_a_400_on_create_and_patch(admin_api, make_integration, secret):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_test_123456789", "webhookSigningSecret": SIGNING_SECRET})
    created = admin_api.post("/api/integrations", email_body(credentials={"apiKey": "re_x_123456789", "webhookSigningSecret": secret}), format="json")
    patched = admin_api.patch(f"/api/integrations/{integration.pk}", {"credentials": {"webhookSigningSecret": secret}}, format="json")

    for response in (created, patched):
        assert response.status_code == 400
        assert "webhookSigningSecret" in str(response.json()["credentials"])
        assert secret not in response.content.decode()
    assert Integration.objects.count() == 1
    assert Integration.objects.get().credentials["webhookSigningSecret"] == SIGNING_SECRET


@pytest.mark.parametrize("secret", WEAK_SIGNING_SECRETS)
def test_the_settings_page_and_the_admin_refuse_a_weak_signing_secret(pages_as, make_integration, secret):
    integration = make_integration("EMAIL_PROVIDER")
    staff = Client()
    staff.force_login(User.objects.create_superuser(email="staff@opbox.example", password="pw"))
    form = {"name": "Resend", "enabled": "on", "config_fromEmail": "noreply@acme.example", "credential_webhookSigningSecret": secret}

    page = pages_as(Role.ADMIN).post(f"/settings/integrations/{integration.pk}/", form)
    admin = staff.post(f"/admin/integrations/integration/{integration.pk}/change/", form)

    assert page.status_code == 400 and "webhookSigningSecret" in page.content.decode()
    assert admin.status_code == 200 and "webhookSigningSecret" in admin.content.decode()  # the form again, with the error
    assert "webhookSigningSecret" not in Integration.objects.get(pk=integration.pk).credentials


def test_a_signing_secret_of_exactly_24_bytes_is_taken(admin_api):
    secret = "whsec_" + base64.b64encode(b"y" * 24).decode()  # the length Resend's own secrets have

    response = admin_api.post("/api/integrations", email_body(credentials={"apiKey": "re_x_123456789", "webhookSigningSecret": secret}), format="json")

    assert response.status_code == 201
    assert Integration.objects.get().credentials["webhookSigningSecret"] == secret


def test_each_provider_keeps_its_own_webhook_setting(admin_api):
    a_with_key = admin_api.post("/api/integrations", email_body(config={"webhookVerificationKey": P256_KEY}), format="json")
    b_with_secret = admin_api.post(
        "/api/integrations", email_body("EMAIL_PROVIDER_ALT", credentials={"apiKey": "SG.x", "webhookSigningSecret": SIGNING_SECRET}),
        format="json",
    )  # fmt: skip

    assert a_with_key.status_code == b_with_secret.status_code == 400


def test_email_detail_answers_carry_the_webhook_url_and_the_last_event(admin_api, make_integration):
    integration = make_integration("EMAIL_PROVIDER_ALT")

    detail = admin_api.get(f"/api/integrations/{integration.pk}").json()

    assert detail["webhookUrl"] == f"http://testserver/api/webhooks/email-provider-b/{integration.pk}"
    assert resolve(detail["webhookUrl"].removeprefix("http://testserver")).url_name == "email-provider-b-webhook"
    assert detail["lastEventAt"] is None
    Integration.objects.filter(pk=integration.pk).update(last_event_at=timezone.now())
    assert admin_api.get(f"/api/integrations/{integration.pk}").json()["lastEventAt"].endswith("Z")


def test_other_types_have_no_webhook_url(admin_api, make_integration):
    detail = admin_api.get(f"/api/integrations/{make_integration('WEBHOOK').pk}").json()

    assert detail["webhookUrl"] is None and detail["lastEventAt"] is None


def test_the_settings_page_shows_where_to_point_the_provider_and_when_it_last_posted(pages_as, make_integration):
    a = make_integration("EMAIL_PROVIDER", name="Resend")
    b = make_integration("EMAIL_PROVIDER_ALT", name="SendGrid", config={"fromEmail": "a@acme.example", "webhookVerificationKey": P256_KEY})
    Integration.objects.filter(pk=b.pk).update(last_event_at=timezone.now())

    html = pages_as(Role.MEMBER).get("/settings/integrations/").content.decode()

    assert f"http://testserver/api/webhooks/email-provider-a/{a.pk}" in html
    assert f"http://testserver/api/webhooks/email-provider-b/{b.pk}" in html
    card_a = html[html.index(f'id="integration-{a.pk}"') :]
    card_b = html[html.index(f'id="integration-{b.pk}"') :]
    assert "no events yet" in card_a[: card_a.index("</li>")] and "webhook signing secret" in card_a[: card_a.index("</li>")]
    assert "last one" in card_b[: card_b.index("</li>")] and "no events yet" not in card_b[: card_b.index("</li>")]


def test_the_settings_form_takes_the_secret_write_only_and_checks_the_key(pages_as, make_integration):
    admin = pages_as(Role.ADMIN)
    integration = make_integration("EMAIL_PROVIDER")

    saved = admin.post(f"/settings/integrations/{integration.pk}/", {
        "name": "Resend", "enabled": "on", "config_fromEmail": "noreply@acme.example", "credential_webhookSigningSecret": SIGNING_SECRET,
    })  # fmt: skip
    refused = admin.post("/settings/integrations/new/?type=EMAIL_PROVIDER_ALT", {
        "name": "SendGrid", "enabled": "on", "config_fromEmail": "a@acme.example", "config_webhookVerificationKey": "nope",
    })  # fmt: skip

    assert saved.status_code == 302
    assert Integration.objects.get(pk=integration.pk).credentials["webhookSigningSecret"] == SIGNING_SECRET
    assert SIGNING_SECRET not in admin.get(f"/settings/integrations/{integration.pk}/").content.decode()
    assert refused.status_code == 400 and "EC P-256 public key" in refused.content.decode()


def test_the_admin_form_follows_the_type_definition(make_integration):
    staff = Client()
    staff.force_login(User.objects.create_superuser(email="staff@opbox.example", password="pw"))
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_test_123456789", "webhookSigningSecret": SIGNING_SECRET})

    change = staff.get(f"/admin/integrations/integration/{integration.pk}/change/").content.decode()
    add_b = staff.get("/admin/integrations/integration/add/?type=EMAIL_PROVIDER_ALT").content.decode()

    assert 'name="credential_webhookSigningSecret"' in change and "whsec_Q0...****" in change and SIGNING_SECRET not in change
    assert 'name="config_webhookVerificationKey"' in add_b


def test_the_edit_page_of_an_email_integration_shows_its_webhook_url(pages_as, make_integration):
    a = make_integration("EMAIL_PROVIDER", name="Resend")
    b = make_integration("EMAIL_PROVIDER_ALT", name="SendGrid")
    hook = make_integration("WEBHOOK")
    admin = pages_as(Role.ADMIN)

    pages = {integration.type: admin.get(f"/settings/integrations/{integration.pk}/").content.decode() for integration in (a, b, hook)}

    assert f'<code class="webhook-url">http://testserver/api/webhooks/email-provider-a/{a.pk}</code>' in pages["EMAIL_PROVIDER"]
    assert "webhook signing secret" in pages["EMAIL_PROVIDER"]
    assert f'<code class="webhook-url">http://testserver/api/webhooks/email-provider-b/{b.pk}</code>' in pages["EMAIL_PROVIDER_ALT"]
    assert "webhook verification key" in pages["EMAIL_PROVIDER_ALT"]
    assert "webhook-url" not in pages["WEBHOOK"]


@pytest.mark.parametrize(
    "secret", ["whsec_", "whsec_!!!!", "whsec_===="], ids=["nothing after whsec_", "not base64", "padding only"]
)
def test_a_webhook_secret_that_would_sign_with_an_empty_key_is_a_400(admin_api, secret):
    body = {"name": "Hook", "type": "WEBHOOK", "config": {"url": "https://hooks.example/x"}, "credentials": {"secret": secret}}

    response = admin_api.post("/api/integrations", body, format="json")

    assert response.status_code == 400
    assert "cannot sign" in str(response.json()["credentials"])
    assert not Integration.objects.exists()


def test_any_other_webhook_secret_is_taken(admin_api):
    for secret in ("whsec_" + base64.b64encode(b"k").decode(), "a plain shared secret"):
        body = {
            "name": "Hook",
            "type": "WEBHOOK",
            "config": {"url": "https://hooks.example/x"},
            "credentials": {"secret": secret},
        }
        assert admin_api.post("/api/integrations", body, format="json").status_code == 201
