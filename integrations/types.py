"""The nine integration types: one definition each serves the API, admin, settings pages and fingerprints.

Adding a type is one entry in TYPES.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator
from django.db import models

from workspaces.models import WorkspaceEventType

from .outbound import literal_address, private_networks_allowed, validate_public_url

MAX_NAME_LENGTH = 255  # an integration's name
MAX_VALUE_LENGTH = 2048  # each config value and credential


class IntegrationType(models.TextChoices):
    EMAIL_PROVIDER = "EMAIL_PROVIDER", "Email provider A"
    EMAIL_PROVIDER_ALT = "EMAIL_PROVIDER_ALT", "Email provider B"
    DOCUMENT_ENGINE = "DOCUMENT_ENGINE", "Document engine"
    WEBHOOK = "WEBHOOK", "Webhook"
    SLACK = "SLACK", "Slack"
    EXTERNAL_DATABASE = "EXTERNAL_DATABASE", "External database"
    WEBHOOK_PLATFORM = "WEBHOOK_PLATFORM", "Webhook platform"
    CRM_PLATFORM = "CRM_PLATFORM", "CRM platform"
    CLOUD_STORAGE = "CLOUD_STORAGE", "Cloud storage"


EMAIL_PROVIDER_TYPES = (IntegrationType.EMAIL_PROVIDER, IntegrationType.EMAIL_PROVIDER_ALT)

_validate_email = EmailValidator(message="Enter a valid email address.")


def _validate_header_text(value: str) -> None:
    """A value that becomes an email header (a From name): a line break or NUL could inject another header."""
    if any(character in value for character in ("\r", "\n", "\0")):
        raise ValidationError("Must not contain line breaks or NUL characters (it becomes an email header).")
_validate_web_url = URLValidator(schemes=["http", "https"], message="Enter a valid http or https URL.")
_validate_https_url = URLValidator(schemes=["https"], message="Enter a valid https URL.")


def _validate_slack_webhook_url(value: str) -> None:
    """https, as Slack issues them; plain http only to a loopback fake while private networks are allowed."""
    _validate_web_url(value)
    host = value.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    address = literal_address(host)
    if value.lower().startswith("http://") and not (private_networks_allowed() and address and address.is_loopback):
        _validate_https_url(value)


def validate_event_types(value: str) -> None:
    """A comma-separated list of workspace event types (SPEC §15), each one known."""
    names = [name.strip() for name in value.split(",")]
    unknown = [name for name in names if name not in WorkspaceEventType.values]
    if unknown or not any(names):
        shown = ", ".join(name or '""' for name in unknown) or "an empty list"
        raise ValidationError(f"Unknown event type(s): {shown}. Allowed: {', '.join(WorkspaceEventType.values)}.")


def load_ec_p256_public_key(value: str) -> ec.EllipticCurvePublicKey:
    """An EC P-256 public key from base64 DER (SubjectPublicKeyInfo), the form SendGrid shows its Signed Event
    Webhook's verification key in; ValueError for anything else."""
    try:
        key = load_der_public_key(base64.b64decode("".join(str(value).split()), validate=True))
    except (ValueError, binascii.Error, TypeError, UnsupportedAlgorithm):
        raise ValueError("not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an EC P-256 public key")
    return key


def validate_ec_p256_public_key(value: str) -> None:
    try:
        load_ec_p256_public_key(value)
    except ValueError:
        raise ValidationError("Enter the verification key the provider shows: an EC P-256 public key in base64 (DER).") from None


MIN_SIGNING_KEY_BYTES = 24  # what Resend's (Svix's) own whsec_ secrets hold


def validate_signing_secret(value: str) -> None:
    """A Standard Webhooks signing secret as Resend shows it: `whsec_`, then strict base64 of at least 24 bytes.

    The `standardwebhooks` library decodes leniently: `whsec_AA` would be a 1-byte HMAC key, `whsec_!!!!` an
    empty one. The message never repeats the value (it is a secret).
    """
    encoded = value[len("whsec_") :] if value.startswith("whsec_") else None
    try:
        key = base64.b64decode(encoded, validate=True) if encoded else b""
    except (binascii.Error, ValueError):  # ValueError: characters that are not ASCII
        key = b""
    if len(key) < MIN_SIGNING_KEY_BYTES:
        raise ValidationError(
            f"Enter the signing secret the provider shows for the webhook: whsec_ followed by base64 of at least "
            f"{MIN_SIGNING_KEY_BYTES} bytes."
        )


def signing_key(secret: str) -> bytes:
    """The HMAC key of a WEBHOOK's secret (SPEC §15): a `whsec_` secret's base64 part decoded (as leniently as
    the `standardwebhooks` library its receivers use), any other's UTF-8 bytes. ValueError when that leaves
    no key: `whsec_` alone, or followed only by characters base64 skips."""
    if not secret.startswith("whsec_"):
        return secret.encode()
    try:
        key = binascii.a2b_base64(secret[len("whsec_") :].encode() + b"==")
    except (binascii.Error, ValueError):  # ValueError: characters that are not ASCII
        raise ValueError("the part after whsec_ is not base64") from None
    if not key:
        raise ValueError("the part after whsec_ holds no key")
    return key


def validate_webhook_secret(value: str) -> None:
    """Any string that signs: `whsec_` and base64, or anything else."""
    try:
        signing_key(value)
    except ValueError as error:
        raise ValidationError(f"This secret cannot sign: {error}. Use whsec_ and base64, or any other string.") from None


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    validator: object = None  # a Django validator, or None for free text
    input_type: str = "text"  # for the settings form: text, email, url
    # A URL Opbox calls: refused at write time when it names a private network (outbound.py).
    outbound: bool = False
    help_text: str = ""  # where a user finds the value

    @property
    def validators(self) -> tuple:
        return tuple(v for v in (self.validator, validate_public_url if self.outbound else None) if v is not None)


@dataclass(frozen=True)
class TypeDefinition:
    type: IntegrationType
    description: str
    config_fields: tuple[ConfigField, ...]
    credential_fields: tuple[str, ...]  # every credential the type takes, required and optional
    optional_credentials: tuple[str, ...] = ()  # of credential_fields: those `credentialsConfigured` does not need
    credential_validators: tuple[tuple[str, object], ...] = ()  # (credential name, Django validator) pairs
    # The setting (a credential or a config field) that authenticates the provider's signed webhooks; "" for none.
    webhook_secret: str = ""
    credential_help: tuple[tuple[str, str], ...] = ()  # (credential, where a user finds it)
    # The config field holding the URL the credentials are sent to, when users type it; "" when they only go
    # to the operator's service URL (or, for a signing secret, never leave).
    credential_destination: str = ""

    def help_for(self, credential: str) -> str:
        return dict(self.credential_help).get(credential, "")

    @property
    def config_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.config_fields)

    @property
    def required_credentials(self) -> tuple[str, ...]:
        return tuple(name for name in self.credential_fields if name not in self.optional_credentials)

    @property
    def webhook_secret_label(self) -> str:
        """How forms label the webhook setting, e.g. "Webhook signing secret"."""
        labels = {field.name: field.label for field in self.config_fields}
        return labels.get(self.webhook_secret) or credential_label(self.webhook_secret)

    @property
    def is_email_provider(self) -> bool:
        return self.type in EMAIL_PROVIDER_TYPES


def _email(name, label):
    return ConfigField(name, label, _validate_email, "email")


def _url(name, label, validator=_validate_web_url, help_text=""):
    return ConfigField(name, label, validator, "url", outbound=True, help_text=help_text)


_EVENTS = ConfigField(
    "events", "Events", validate_event_types,
    help_text="Comma-separated event types to receive, e.g. email.failed,integration.check_failed (empty: the default).",
)  # fmt: skip


TYPES: dict[str, TypeDefinition] = {
    definition.type.value: definition
    for definition in (
        TypeDefinition(
            IntegrationType.EMAIL_PROVIDER,
            "Email delivery provider (Resend API)",
            (_email("fromEmail", "From email"), ConfigField("fromName", "From name", _validate_header_text)),
            ("apiKey", "webhookSigningSecret"),
            # The whsec_... secret Resend shows for the webhook endpoint: secret, so a credential.
            optional_credentials=("webhookSigningSecret",),
            credential_validators=(("webhookSigningSecret", validate_signing_secret),),
            webhook_secret="webhookSigningSecret",
        ),
        TypeDefinition(
            IntegrationType.EMAIL_PROVIDER_ALT,
            "Alternative email delivery provider (SendGrid v3 API)",
            (
                _email("fromEmail", "From email"),
                ConfigField("fromName", "From name", _validate_header_text),
                # The Signed Event Webhook's public key: public, so config, checked when written.
                ConfigField("webhookVerificationKey", "Webhook verification key", validate_ec_p256_public_key),
            ),
            ("apiKey",),
            webhook_secret="webhookVerificationKey",
        ),
        TypeDefinition(
            IntegrationType.DOCUMENT_ENGINE,
            "Template-based document generation (Carbone API v5, Cloud or on-premise)",
            (_url("baseUrl", "Base URL", help_text="https://api.carbone.io for Carbone Cloud, or your on-premise server's URL."),),
            ("apiKey",),
            credential_help=(("apiKey", "An API key from your Carbone account's home page (account.carbone.io)."),),
            credential_destination="baseUrl",
        ),
        TypeDefinition(
            IntegrationType.WEBHOOK,
            "Webhook endpoint, signed per Standard Webhooks",
            (_url("url", "URL", help_text="The endpoint that receives the signed events."), _EVENTS),
            ("secret",),
            credential_help=(("secret", "The signing secret your endpoint verifies with: whsec_ and base64, or any string."),),
            credential_validators=(("secret", validate_webhook_secret),),
        ),
        TypeDefinition(
            IntegrationType.SLACK,
            "Slack notifications (a bot token, or an incoming webhook)",
            (
                ConfigField("channel", "Channel", help_text="The channel's ID (C0123...), shown at the bottom of its details in Slack."),
                _url("webhookUrl", "Webhook URL", _validate_slack_webhook_url,
                     help_text="An incoming webhook (https://hooks.slack.com/services/...), used when there is no bot token."),
                _EVENTS,
            ),
            ("botToken",),
            # A Slack integration may post through its incoming webhook alone.
            optional_credentials=("botToken",),
            credential_help=((
                "botToken",
                "The app's Bot User OAuth Token (xoxb-...) under OAuth & Permissions, with the chat:write and "
                "channels:read scopes (chat:write.public to post without being invited).",
            ),),
        ),
        TypeDefinition(
            IntegrationType.EXTERNAL_DATABASE,
            "External database sync (Airtable)",
            (
                _url("baseUrl", "Base URL", help_text="Leave empty for https://api.airtable.com."),
                ConfigField("baseId", "Base id", help_text="The app... part of the base's URL in Airtable."),
                ConfigField("tableName", "Table name", help_text="Default: Email Log. It needs an Email ID field."),
            ),
            ("apiToken",),
            credential_help=((
                "apiToken",
                "A personal access token (airtable.com/create/tokens) with schema.bases:read and data.records:write on the base.",
            ),),
            credential_destination="baseUrl",
        ),
        TypeDefinition(
            IntegrationType.WEBHOOK_PLATFORM,
            "Webhook platform trigger (a Zapier Catch Hook or a Make custom webhook)",
            (_url("webhookUrl", "Webhook URL", help_text="The catch hook's URL, copied from the Zap's or scenario's trigger."), _EVENTS),
            (),
        ),
        TypeDefinition(
            IntegrationType.CRM_PLATFORM,
            "CRM platform sync (HubSpot, private app token)",
            (ConfigField("portalId", "Portal id", help_text="Your HubSpot account ID, shown in the account menu."),),
            ("accessToken",),
            credential_help=(("accessToken", "A private app's access token: HubSpot Settings, Integrations, Private apps."),),
        ),
        TypeDefinition(
            IntegrationType.CLOUD_STORAGE,
            "Cloud storage (Google Drive, OAuth 2)",
            (ConfigField("rootFolderId", "Root folder id", help_text="The last part of the folder's URL in Google Drive."),),
            ("accessToken", "refreshToken"),
            credential_help=(
                ("accessToken", "From the OAuth consent for Opbox's Google client (GOOGLE_OAUTH_CLIENT_ID); renewed by itself."),
                ("refreshToken", "From the same consent (offline access); Opbox keeps a rotated one."),
            ),
        ),
    )
}


def definition_for(type_name: str) -> TypeDefinition:
    return TYPES[type_name]


def credential_label(name: str) -> str:
    """"apiKey" -> "API key", "refreshToken" -> "Refresh token"."""
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower().split()
    words = ["API" if word == "api" else word for word in words]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def fingerprint_for(secret: str) -> str:
    """The first 8 characters of `secret` (never more than a quarter of it), then `...****`."""
    return secret[: min(8, len(secret) // 4)] + "...****"


def fingerprint_key(credential_name: str) -> str:
    return f"{credential_name}Fingerprint"


def merge_patch(current: dict, patch: dict) -> dict:
    """RFC 7396 on a flat object: keys set, `None` removes, absent keys kept."""
    merged = dict(current)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def _check_keys(values: dict, allowed: tuple[str, ...], what: str, type_name: str) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if not unknown:
        return []
    allowed_text = ", ".join(allowed) if allowed else "none"
    return [f"Unknown {what} key(s) for {type_name}: {', '.join(unknown)}. Allowed: {allowed_text}."]


def _check_value(key: str, value, *, allow_null: bool) -> str | None:
    if value is None:
        return None if allow_null else f"{key}: must be a string."
    if not isinstance(value, str):
        return f"{key}: must be a string."
    if len(value) > MAX_VALUE_LENGTH:
        return f"{key}: at most {MAX_VALUE_LENGTH} characters."
    return None


def validate_config(type_name: str, config: dict, *, allow_null: bool = False) -> dict:
    """Check `config` (a full object, or a merge patch when `allow_null`) against the type; return it."""
    definition = definition_for(type_name)
    if not isinstance(config, dict):
        raise ValidationError({"config": ["Must be an object."]})
    errors = _check_keys(config, definition.config_names, "config", type_name)
    by_name = {field.name: field for field in definition.config_fields}
    for key, value in config.items():
        if key not in by_name:
            continue
        problem = _check_value(key, value, allow_null=allow_null)
        for validator in by_name[key].validators if problem is None and value else ():
            try:
                validator(value)
            except ValidationError as error:
                problem = f"{key}: {' '.join(error.messages)}"
                break
        if problem:
            errors.append(problem)
    if errors:
        raise ValidationError({"config": errors})
    return config


def _origin(url) -> tuple | None:
    if not isinstance(url, str) or not url.strip():
        return None  # the service's default URL
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = "?"
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def check_credential_destination(type_name: str, stored_config: dict, config: dict, credentials_patch: dict | None) -> None:
    """Moving the URL the credentials are sent to onto another host (scheme, host or port) needs them entered
    again: they are never shown, and changing the URL alone would send the stored ones to any server."""
    definition = TYPES[type_name]
    field = definition.credential_destination
    if not field or _origin(stored_config.get(field)) == _origin(config.get(field)):
        return
    missing = [name for name in definition.required_credentials if not (credentials_patch or {}).get(name)]
    if missing:
        labels = " and ".join(credential_label(name) for name in missing)
        raise ValidationError(
            {"credentials": [f"The new {field} is on another host: enter the {labels} again with it, to send it there."]}
        )


def validate_credentials(type_name: str, credentials: dict, *, allow_null: bool = False) -> dict:
    """Check credential keys and values for the type; a credential, when given, is a non-empty string."""
    definition = definition_for(type_name)
    if not isinstance(credentials, dict):
        raise ValidationError({"credentials": ["Must be an object."]})
    errors = _check_keys(credentials, definition.credential_fields, "credential", type_name)
    validators = dict(definition.credential_validators)
    for key, value in credentials.items():
        if key not in definition.credential_fields:
            continue
        problem = _check_value(key, value, allow_null=allow_null)
        if problem is None and value == "":
            problem = f"{key}: must not be empty (send null to remove it)."
        if problem is None and value and key in validators:
            try:
                validators[key](value)
            except ValidationError as error:
                problem = f"{key}: {' '.join(error.messages)}"
        if problem:
            errors.append(problem)
    if errors:
        raise ValidationError({"credentials": errors})
    return credentials
