"""System checks: bad encryption-key configuration is a named error at start-up, not a 500 later."""

from django.conf import settings
from django.core.checks import Error, register

from .crypto import KeyConfigurationError, KeyRing


@register()
def check_encryption_keys(app_configs, **kwargs):
    try:
        KeyRing(list(settings.OPBOX_ENCRYPTION_KEYS))
    except KeyConfigurationError as error:
        return [
            Error(
                str(error),
                hint="Set OPBOX_ENCRYPTION_KEYS to comma-separated keys made by "
                "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`.",
                id="integrations.E001",
            )
        ]
    return []
