"""Integration services (writes) and selectors (reads). The API, admin, pages and commands all call these,
so every rule of SPEC §4 lives here once.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from workspaces.models import Workspace

from .crypto import key_ring
from .models import Integration
from .types import (
    EMAIL_PROVIDER_TYPES,
    TYPES,
    fingerprint_for,
    merge_patch,
    validate_config,
    validate_credentials,
)

MAX_NAME_LENGTH = 255


# Selectors ---------------------------------------------------------------------------------------


def integrations_for(workspace: Workspace):
    """The workspace's integrations, newest first, without loading ciphertexts."""
    return Integration.objects.for_workspace(workspace).without_secrets().order_by("-created_at", "-id")


def integration_in(workspace: Workspace, integration_id: str) -> Integration:
    """One integration of `workspace`; another workspace's id raises DoesNotExist like a missing one."""
    return Integration.objects.for_workspace(workspace).get(pk=integration_id)


def integration_stats(workspace: Workspace) -> dict:
    """Counts by state and by type, in two queries whatever the number of integrations."""
    integrations = Integration.objects.for_workspace(workspace)
    totals = integrations.aggregate(total=Count("id"), enabled=Count("id", filter=Q(enabled=True)))
    by_type = integrations.values("type").annotate(count=Count("id")).order_by("type")
    return {
        "total": totals["total"],
        "enabled": totals["enabled"],
        "disabled": totals["total"] - totals["enabled"],
        "byType": {row["type"]: row["count"] for row in by_type if row["count"]},
    }


def site_email_provider(workspace: Workspace) -> Integration | None:
    return Integration.objects.for_workspace(workspace).filter(is_site_email_provider=True).first()


# Services ----------------------------------------------------------------------------------------


def clean_name(name) -> str:
    if not isinstance(name, str) or not (1 <= len(name.strip()) <= MAX_NAME_LENGTH):
        raise ValidationError({"name": [f"Must be 1 to {MAX_NAME_LENGTH} characters (after trimming spaces)."]})
    return name.strip()


def _set_credentials(integration: Integration, credentials: dict) -> None:
    integration.credentials = credentials
    integration.credential_fingerprints = {name: fingerprint_for(value) for name, value in credentials.items()}


def check_site_provider_rules(type_name: str, enabled: bool, wants_flag: bool) -> None:
    """Only an enabled email integration may hold the site email provider flag."""
    if not wants_flag:
        return
    if type_name not in EMAIL_PROVIDER_TYPES:
        raise ValidationError(
            {"setAsSiteEmailProvider": ["Only EMAIL_PROVIDER or EMAIL_PROVIDER_ALT integrations can be the site email provider."]}
        )
    if not enabled:
        raise ValidationError({"setAsSiteEmailProvider": ["A disabled integration cannot be the site email provider."]})


def _take_site_email_provider_flag(integration: Integration) -> None:
    """Move the flag to `integration` (saved by the caller, in the same transaction)."""
    # Lock the workspace row so concurrent movers queue up instead of colliding on the unique index.
    Workspace.objects.select_for_update().filter(pk=integration.workspace_id).first()
    Integration.objects.filter(workspace_id=integration.workspace_id, is_site_email_provider=True).exclude(
        pk=integration.pk
    ).update(is_site_email_provider=False, updated_at=timezone.now())
    integration.is_site_email_provider = True


@transaction.atomic
def create_integration(
    workspace: Workspace,
    *,
    name: str,
    type: str,
    config: dict | None = None,
    credentials: dict | None = None,
    enabled: bool = True,
    set_as_site_email_provider: bool = False,
) -> Integration:
    """Validate and store a new integration; optionally make it the workspace's site email provider."""
    if type not in TYPES:
        raise ValidationError({"type": [f"Unknown type. Allowed: {', '.join(TYPES)}."]})
    config = merge_patch({}, validate_config(type, config or {}, allow_null=True))
    credentials = merge_patch({}, validate_credentials(type, credentials or {}, allow_null=True))
    integration = Integration(workspace=workspace, name=clean_name(name), type=type, config=config, enabled=enabled)
    _set_credentials(integration, credentials)
    check_site_provider_rules(type, enabled, set_as_site_email_provider)
    if set_as_site_email_provider:
        _take_site_email_provider_flag(integration)
    integration.save()
    return integration


_UNSET = object()


@transaction.atomic
def update_integration(
    integration: Integration,
    *,
    name=_UNSET,
    type=_UNSET,
    config_patch: dict | None = None,
    credentials_patch: dict | None = None,
    enabled=_UNSET,
    set_as_site_email_provider=_UNSET,
) -> Integration:
    """Apply a JSON Merge Patch to config and credentials and set the other given fields.

    The type is fixed at creation. Disabling the site email provider clears its flag.
    """
    if type is not _UNSET and type != integration.type:
        raise ValidationError({"type": ["The type of an integration cannot be changed; create a new one."]})
    if name is not _UNSET:
        integration.name = clean_name(name)
    if config_patch is not None:
        validate_config(integration.type, config_patch, allow_null=True)
        integration.config = merge_patch(integration.config, config_patch)
    if credentials_patch is not None:
        validate_credentials(integration.type, credentials_patch, allow_null=True)
        _set_credentials(integration, merge_patch(integration.credentials, credentials_patch))
    if enabled is not _UNSET:
        integration.enabled = bool(enabled)
        if not integration.enabled:
            integration.is_site_email_provider = False
    if set_as_site_email_provider is not _UNSET:
        if set_as_site_email_provider:
            check_site_provider_rules(integration.type, integration.enabled, True)
            _take_site_email_provider_flag(integration)
        else:
            integration.is_site_email_provider = False
    integration.updated_at = timezone.now()
    integration.save()
    return integration


@transaction.atomic
def delete_integration(integration: Integration) -> None:
    """Delete the integration (its flag goes with it); its Email Log table and rows are kept."""
    integration.delete()


def reencrypt_all_credentials(batch_size: int = 500) -> dict:
    """Re-seal every stored credential under the first configured key; returns counts.

    Rows already under the first key are skipped, so the command can be re-run after an interruption.
    """
    primary = key_ring().primary_key_id
    counts = {"reencrypted": 0, "already_current": 0}
    queryset = Integration.objects.exclude(credentials__isnull=True).only("id", "credentials").order_by("pk")
    for integration in queryset.iterator(chunk_size=batch_size):
        if integration.__dict__["credentials"].key_id == primary:
            counts["already_current"] += 1
            continue
        with transaction.atomic():
            integration.credentials = integration.credentials  # decrypts with its key; save seals with the primary
            integration.save(update_fields=["credentials"])
        counts["reencrypted"] += 1
    return counts
