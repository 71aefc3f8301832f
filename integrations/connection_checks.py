"""Connection checks (SPEC §13): each integration type's connector proves its credential and the resource it
points at, and answers with one sentence a person can act on.

- `check_integration`: the stored values; the outcome is recorded on the integration (`last_checked_at`,
  `last_check_ok`, `last_check_detail`), and a check that turns from passing to failing records an
  `integration.check_failed` event in the same transaction.
- `check_unsaved_values` / `check_patched_values`: test before saving, with a create-shaped body or a PATCH-shaped
  one merged over the stored values. They validate like a write and store nothing, not even the result.

Nothing here names a service: what to call and how is the connector's (providers.registry).
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from opbox.errors import ApplicationError
from workspaces.events import record_event
from workspaces.models import Workspace, WorkspaceEventType

from .crypto import EncryptionError
from .exceptions import CredentialsUnreadable
from .models import Integration
from .oauth import StoredTokens, UnsavedTokens
from .pacing import pause
from .providers import ProviderRateLimited, connector_for
from .services import check_integration_input, clean_name
from .types import check_credential_destination, merge_patch, validate_config, validate_credentials

MAX_DETAIL = 1000  # characters of a check's sentence kept on the integration


@dataclass(frozen=True)
class CheckOutcome:
    """What a check found: `ok`, its sentence, when, the templates it listed (email and document types), and the
    HTTP status the API answers with (200, or the failure's: 502 refused or missing, 504 silent, 409 incomplete)."""

    ok: bool
    detail: str
    checked_at: datetime
    http_status: int = 200
    templates: list | None = field(default=None)


def _identity(integration_id, name, type_name) -> dict:
    return {"id": integration_id, "name": name, "type": type_name}


def _run(type_name: str, config: dict, credentials: dict, *, identity: dict, unsaved: bool, tokens, pace_id=None) -> CheckOutcome:
    connector = connector_for(type_name)
    try:
        client = connector.client(config, credentials, identity=identity, unsaved=unsaved, tokens=tokens)
        result = client.check()
    except ApplicationError as error:
        if isinstance(error, ProviderRateLimited) and error.retry_after and pace_id:
            pause(pace_id, error.retry_after)  # every worker holds off this integration's service, as for sends
        return CheckOutcome(False, error.detail[:MAX_DETAIL], timezone.now(), error.http_status)
    return CheckOutcome(True, result.detail[:MAX_DETAIL], timezone.now(), templates=result.templates)


def check_integration(integration: Integration) -> CheckOutcome:
    """Check the stored values and record the outcome (a pass, or a failure with its sentence)."""
    identity = _identity(integration.pk, integration.name, integration.type)
    try:
        credentials = integration.credentials
    except EncryptionError as error:
        outcome = CheckOutcome(False, CredentialsUnreadable(str(error)).detail, timezone.now(), CredentialsUnreadable.http_status)
    else:
        tokens = StoredTokens(integration) if connector_for(integration.type).client_class.refreshes_tokens else None
        outcome = _run(integration.type, integration.config, credentials, identity=identity, unsaved=False, tokens=tokens,
                       pace_id=integration.pk)  # fmt: skip
    record_check(integration, outcome)
    return outcome


def record_check(integration: Integration, outcome: CheckOutcome) -> None:
    """Store a check's outcome; a pass turning into a failure also records `integration.check_failed`, once."""
    fields = {"last_checked_at": outcome.checked_at, "last_check_ok": outcome.ok, "last_check_detail": outcome.detail}
    with transaction.atomic():
        # A conditional UPDATE decides the turn: of two checks failing at once, only one finds the pass to undo.
        turned = not outcome.ok and Integration.objects.filter(pk=integration.pk, last_check_ok=True).update(**fields)
        if not turned:
            Integration.objects.filter(pk=integration.pk).update(**fields)
        else:
            record_event(integration.workspace_id, WorkspaceEventType.INTEGRATION_CHECK_FAILED, {
                **_identity(integration.pk, integration.name, integration.type), "lastCheckDetail": outcome.detail,
            })  # fmt: skip
    # Not a change of the integration: updated_at (and the template cache keyed on it) stays as it is.
    for name, value in fields.items():
        setattr(integration, name, value)


def check_unsaved_values(workspace: Workspace, *, name, type: str, config: dict, credentials: dict, enabled: bool = True,
                         set_as_site_email_provider: bool = False) -> CheckOutcome:  # fmt: skip
    """Test a new integration's values before saving it (the arguments of `create_integration`); stores nothing."""
    name = check_integration_input(type, name=name, config=config, credentials=credentials, enabled=enabled,
                                   set_as_site_email_provider=set_as_site_email_provider)  # fmt: skip
    config, credentials = merge_patch({}, config), merge_patch({}, credentials)
    return _run(type, config, credentials, identity=_identity(None, name, type), unsaved=True, tokens=UnsavedTokens(credentials))


def check_patched_values(integration: Integration, *, name=None, type=None, config_patch: dict | None = None,
                         credentials_patch: dict | None = None, enabled=None, set_as_site_email_provider=None) -> CheckOutcome:  # fmt: skip
    """Test a PATCH before saving it: its values merged over the stored ones, validated as `update_integration`
    would; stores nothing. With the stored tokens unchanged, an OAuth integration refreshes them as any call would."""
    if type is not None and type != integration.type:
        raise ValidationError({"type": ["The type of an integration cannot be changed; create a new one."]})
    name = clean_name(name) if name is not None else integration.name
    validate_config(integration.type, config_patch or {}, allow_null=True)
    validate_credentials(integration.type, credentials_patch or {}, allow_null=True)
    enabled = integration.enabled if enabled is None else enabled
    wants_flag = integration.is_site_email_provider if set_as_site_email_provider is None else set_as_site_email_provider
    check_integration_input(integration.type, name=name, config={}, credentials={}, enabled=enabled,
                            set_as_site_email_provider=wants_flag and not integration.is_site_email_provider)  # fmt: skip
    try:
        stored = integration.credentials
    except EncryptionError as error:
        raise CredentialsUnreadable(str(error)) from None
    config = merge_patch(integration.config, config_patch or {})
    check_credential_destination(integration.type, integration.config, config, credentials_patch)
    credentials = merge_patch(stored, credentials_patch or {})
    identity = _identity(integration.pk, name, integration.type)
    refreshes = connector_for(integration.type).client_class.refreshes_tokens
    tokens = None
    if refreshes:
        tokens = StoredTokens(integration) if credentials == stored else UnsavedTokens(credentials)
    return _run(integration.type, config, credentials, identity=identity, unsaved=True, tokens=tokens)
