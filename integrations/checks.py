"""System checks: bad encryption-key configuration is a named error at start-up, not a 500 later.

- integrations.E001: OPBOX_ENCRYPTION_KEYS is empty or malformed.
- integrations.E002 (a database check: `manage.py check --database default`, and every `migrate`): stored
  credentials name a key id OPBOX_ENCRYPTION_KEYS lacks, so a deploy that dropped an old key too early
  fails at once instead of at the first decrypt. /readyz asks the same question (`missing_key_problem`).
"""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError

from .crypto import KeyConfigurationError, KeyRing, key_ring
from .services import MALFORMED, credential_key_usage

KEY_HINT = (
    "Set OPBOX_ENCRYPTION_KEYS to comma-separated keys made by "
    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
)


@register()
def check_encryption_keys(app_configs, **kwargs):
    try:
        KeyRing(list(settings.OPBOX_ENCRYPTION_KEYS))
    except KeyConfigurationError as error:
        return [Error(str(error), hint=KEY_HINT, id="integrations.E001")]
    return []


def missing_key_problem() -> str | None:
    """Which key ids stored credentials use that the key ring lacks (with counts), or None when it has them all.

    Reads only the stored values' key-id prefixes; decrypts nothing.
    """
    usage = credential_key_usage()
    try:
        configured = set(key_ring().key_ids)
    except KeyConfigurationError as error:
        return str(error)
    missing = {key_id: count for key_id, count in usage.items() if key_id not in configured and key_id != MALFORMED}
    problems = []
    if missing:
        listed = ", ".join(f"{key_id} ({count} integration{'s' if count != 1 else ''})" for key_id, count in sorted(missing.items()))
        problems.append(
            f"Stored credentials are sealed with key id(s) missing from OPBOX_ENCRYPTION_KEYS: {listed}. "
            "Add those keys back (after the current first key) and run `manage.py rotate_encryption_keys` before dropping them."
        )
    if usage.get(MALFORMED):
        problems.append(f"{usage[MALFORMED]} integration(s) hold credentials in no known sealed format.")
    return " ".join(problems) or None


@register(Tags.database)
def check_stored_key_ids(app_configs, databases=None, **kwargs):
    if not databases:
        return []
    try:
        problem = missing_key_problem()
    except DatabaseError:
        return []  # no integrations table yet (before the first migrate): nothing is stored under any key
    return [Error(problem, hint=KEY_HINT, id="integrations.E002")] if problem else []
