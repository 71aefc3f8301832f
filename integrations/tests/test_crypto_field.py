"""Credentials at rest: AES-256-GCM with a key id and the row as associated data, and key rotation."""

import base64
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from integrations.checks import check_encryption_keys
from integrations.crypto import DecryptionError, UnknownKeyError, decode_key, key_id_for, key_ring
from integrations.models import Integration
from integrations.services import update_integration

pytestmark = pytest.mark.django_db


def stored_ciphertext(integration) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM integrations_integration WHERE id = %s", [integration.pk])
        return cursor.fetchone()[0]


def nonce_of(sealed: str) -> bytes:
    """The 12-byte nonce of a stored `v1:<key id>:<base64url(nonce || ciphertext)>` value."""
    return base64.urlsafe_b64decode(sealed.split(":", 2)[2])[:12]


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_credentials_round_trip_and_are_stored_sealed(make_integration):
    integration = make_integration("WEBHOOK", credentials={"secret": "whsec_round_trip_value"})

    sealed = stored_ciphertext(integration)
    assert sealed.startswith(f"v1:{key_ring().primary_key_id}:")
    assert "whsec_round_trip_value" not in sealed
    assert Integration.objects.get(pk=integration.pk).credentials == {"secret": "whsec_round_trip_value"}


def test_saving_the_same_credentials_again_seals_them_under_a_fresh_nonce(make_integration):
    # One row, so the key and the associated data are the same both times: only the nonce can differ.
    integration = make_integration("WEBHOOK", credentials={"secret": "same-secret-value"})
    first = stored_ciphertext(integration)
    update_integration(integration, credentials_patch={"secret": "same-secret-value"})
    second = stored_ciphertext(integration)

    assert first.split(":")[1] == second.split(":")[1]  # the same key sealed both
    assert nonce_of(first) != nonce_of(second)
    assert Integration.objects.get(pk=integration.pk).credentials == {"secret": "same-secret-value"}


def test_a_tampered_ciphertext_fails_authentication_naming_the_key(make_integration):
    integration = make_integration("WEBHOOK")
    sealed = stored_ciphertext(integration)
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    Integration.objects.filter(pk=integration.pk).update(credentials=flipped)

    with pytest.raises(DecryptionError) as error:
        Integration.objects.get(pk=integration.pk).credentials  # noqa: B018

    assert sealed.split(":")[1] in str(error.value)


def test_a_ciphertext_copied_into_another_row_does_not_decrypt(make_integration):
    victim = make_integration("WEBHOOK", credentials={"secret": "victims-shared-secret"})
    attacker = make_integration("WEBHOOK", credentials={"secret": "attackers-own-secret"})
    Integration.objects.filter(pk=attacker.pk).update(credentials=stored_ciphertext(victim))

    with pytest.raises(DecryptionError):
        Integration.objects.get(pk=attacker.pk).credentials  # noqa: B018


def test_an_unknown_key_id_is_named(make_integration, settings):
    integration = make_integration("WEBHOOK")
    old_id = stored_ciphertext(integration).split(":")[1]
    settings.OPBOX_ENCRYPTION_KEYS = [new_key()]

    with pytest.raises(UnknownKeyError) as error:
        Integration.objects.get(pk=integration.pk).credentials  # noqa: B018

    assert old_id in str(error.value)


def test_rotation_reencrypts_everything_so_the_old_key_can_go(make_integration, settings):
    secrets = {make_integration("WEBHOOK", credentials={"secret": f"shared-secret-{n}-abcdefgh"}).pk: f"shared-secret-{n}-abcdefgh" for n in range(5)}
    old = list(settings.OPBOX_ENCRYPTION_KEYS)
    new = new_key()
    settings.OPBOX_ENCRYPTION_KEYS = [new, *old]

    call_command("rotate_encryption_keys")
    again = StringIO()
    call_command("rotate_encryption_keys", stdout=again)
    settings.OPBOX_ENCRYPTION_KEYS = [new]

    assert "Re-encrypted 0 integration(s)" in again.getvalue()  # a second run has nothing to do
    new_id = key_id_for(decode_key(new))
    for pk, secret in secrets.items():
        integration = Integration.objects.get(pk=pk)
        assert stored_ciphertext(integration).split(":")[1] == new_id
        assert integration.credentials == {"secret": secret}


def test_lists_and_stats_never_decrypt(admin_api, make_integration, settings):
    make_integration("EMAIL_PROVIDER")
    settings.OPBOX_ENCRYPTION_KEYS = [new_key()]  # nothing stored can be decrypted now

    assert admin_api.get("/api/integrations").status_code == 200
    assert admin_api.get("/api/integrations/stats").status_code == 200


@pytest.mark.parametrize("keys", [[], ["not base64!"], ["c2hvcnQ="]])
def test_bad_key_configuration_is_a_named_system_check_error(settings, keys):
    settings.OPBOX_ENCRYPTION_KEYS = keys

    errors = check_encryption_keys(None)

    assert [e.id for e in errors] == ["integrations.E001"]
