"""Integration services (writes) and selectors (reads). The API, admin, pages and commands all call these,
so every rule of SPEC §4 lives here once.
"""

import functools

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import CharField, Count, Q
from django.db.models.functions import Substr
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from opbox.sql import CompiledQuery
from workspaces.models import Workspace

from .crypto import SEALED_HEAD_LENGTH, EncryptionError, key_ring, sealed_key_id
from .exceptions import EmailProviderNotConfigured
from .models import AuditAction, Integration, IntegrationAuditEvent
from .providers import client_for, provider_for_type
from .types import (
    EMAIL_PROVIDER_TYPES,
    MAX_NAME_LENGTH,
    TYPES,
    check_credential_destination,
    fingerprint_for,
    merge_patch,
    validate_config,
    validate_credentials,
)

MALFORMED = "malformed"  # credential_key_usage's name for values not in the sealed format

# Selectors ---------------------------------------------------------------------------------------


def integrations_for(workspace: Workspace):
    """The workspace's integrations, newest first, without loading ciphertexts."""
    return Integration.objects.for_workspace(workspace).without_secrets().order_by("-created_at", "-id")


# The API's hot reads, compiled once per process (opbox.sql): the same queries as the ORM's, without
# building them again on every request.
LIST_FIELDS = (
    "id", "name", "type", "config", "credential_fingerprints", "enabled", "is_site_email_provider", "created_at", "updated_at",
)  # fmt: skip
_LIST_QUERY = CompiledQuery(
    lambda workspace_id: Integration.objects.filter(workspace_id=workspace_id)
    .order_by("-created_at", "-id")
    .values_list(*LIST_FIELDS)
)
_ALL_FIELDS = tuple(field.attname for field in Integration._meta.concrete_fields)
_ONE_QUERY = CompiledQuery(
    lambda workspace_id, pk: Integration.objects.filter(workspace_id=workspace_id, pk=pk).values_list(*_ALL_FIELDS),
    parameters=2,
)
_STATS_QUERY = CompiledQuery(
    lambda workspace_id: Integration.objects.filter(workspace_id=workspace_id)
    .values("type")
    .annotate(count=Count("id"), enabled=Count("id", filter=Q(enabled=True)))
    .order_by("type")
    .values_list("type", "count", "enabled")
)


def integration_rows(workspace: Workspace) -> list[dict]:
    """The workspace's integrations as plain rows of LIST_FIELDS, newest first, in one query (no ciphertext)."""
    return [dict(zip(LIST_FIELDS, row, strict=True)) for row in _LIST_QUERY.rows(workspace.pk)]


def integration_in(workspace: Workspace, integration_id: str) -> Integration:
    """One integration of `workspace`; another workspace's id raises DoesNotExist like a missing one."""
    rows = _ONE_QUERY.rows(workspace.pk, str(integration_id))
    if not rows:
        raise Integration.DoesNotExist(f"No integration {integration_id!r} in this workspace.")
    return Integration.from_db(DEFAULT_DB_ALIAS, list(_ALL_FIELDS), list(rows[0]))


def integration_stats(workspace: Workspace) -> dict:
    """Counts by state and by type, in one query whatever the number of integrations."""
    by_type = _STATS_QUERY.rows(workspace.pk)
    total, enabled = sum(count for _, count, _ in by_type), sum(on for _, _, on in by_type)
    return {
        "total": total,
        "enabled": enabled,
        "disabled": total - enabled,
        "byType": {type_name: count for type_name, count, _ in by_type if count},
    }


def webhook_url(integration: Integration, request=None) -> str | None:
    """Where the provider of an email integration posts its events (absolute with `request`); None for other types."""
    if not integration.is_email_provider:
        return None
    path = _webhook_path(provider_for_type(integration.type).webhook_route, integration.pk, get_script_prefix())
    return request.build_absolute_uri(path) if request is not None else path


@functools.lru_cache(maxsize=4096)
def _webhook_path(route: str, integration_id: str, script_prefix: str) -> str:
    # Reversing costs more than the rest of the detail answer; a path never changes for its id and the
    # deployment's script prefix, which is part of the key because reverse() reads it.
    return reverse(route, kwargs={"integration_id": integration_id})


def site_email_provider(workspace: Workspace) -> Integration | None:
    return Integration.objects.for_workspace(workspace).filter(is_site_email_provider=True).first()


def template_source(workspace: Workspace, type_name: str) -> Integration:
    """The integration whose provider lists templates for `type_name`.

    The site email provider when it is of that type, else the most recently updated enabled integration
    of that type with an apiKey.
    """
    usable = Integration.objects.for_workspace(workspace).filter(
        type=type_name, enabled=True, credential_fingerprints__has_key="apiKey"
    )
    integration = usable.filter(is_site_email_provider=True).first() or usable.order_by("-updated_at", "-id").first()
    if integration is None:
        raise EmailProviderNotConfigured(
            f"No enabled {type_name} integration with an apiKey: create one (POST /api/integrations with "
            f'type "{type_name}" and credentials.apiKey) or enable an existing one.'
        )
    return integration


def list_email_templates(workspace: Workspace, type_name: str) -> list:
    """The provider's templates (every page) through the workspace's integration of that type."""
    return email_templates_of(template_source(workspace, type_name))


def email_templates_of(integration: Integration) -> list:
    """The templates of the provider behind one email integration, which also proves its key works.

    Cached for EMAIL_TEMPLATE_CACHE_SECONDS; any change to the integration (a new key included) moves
    its `updated_at`, which is part of the cache key, so a changed integration is asked afresh.
    """
    if not integration.is_email_provider:
        raise ValidationError("Only email integrations have templates.")
    if "apiKey" not in integration.credential_fingerprints:
        raise EmailProviderNotConfigured(f"The email integration {integration.name!r} has no apiKey: add one first.")
    key = f"email-templates:{integration.pk}:{integration.updated_at.timestamp()}"
    templates = cache.get(key)
    if templates is None:
        templates = client_for(integration.type, integration.credentials["apiKey"]).list_templates()
        cache.set(key, templates, settings.EMAIL_TEMPLATE_CACHE_SECONDS)
    return templates


# Services ----------------------------------------------------------------------------------------


def clean_name(name) -> str:
    if not isinstance(name, str) or not (1 <= len(name.strip()) <= MAX_NAME_LENGTH):
        raise ValidationError({"name": [f"Must be 1 to {MAX_NAME_LENGTH} characters (after trimming spaces)."]})
    return name.strip()


def _set_credentials(integration: Integration, credentials: dict) -> None:
    integration.credentials = credentials
    integration.credential_fingerprints = {name: fingerprint_for(value) for name, value in credentials.items()}
    # New credentials from a person: a refused refresh token may work again, and an old token's expiry is not theirs.
    integration.reconnect_needed, integration.token_expires_at = False, None


def _check_site_provider_rules(type_name: str, enabled: bool, wants_flag: bool) -> None:
    """Only an enabled email integration may hold the site email provider flag."""
    if not wants_flag:
        return
    if type_name not in EMAIL_PROVIDER_TYPES:
        allowed = " or ".join(EMAIL_PROVIDER_TYPES)
        raise ValidationError({"setAsSiteEmailProvider": [f"Only {allowed} integrations can be the site email provider."]})
    if not enabled:
        raise ValidationError({"setAsSiteEmailProvider": ["A disabled integration cannot be the site email provider."]})


def check_integration_input(
    type_name: str, *, name, config: dict, credentials: dict, enabled: bool, set_as_site_email_provider: bool
) -> str:
    """Raise the ValidationError that creating (or fully updating) such an integration would; returns the
    cleaned name. `config` and `credentials` may be merge patches. Forms call it to redisplay before saving.
    """
    if type_name not in TYPES:
        raise ValidationError({"type": [f"Unknown type. Allowed: {', '.join(TYPES)}."]})
    validate_config(type_name, config, allow_null=True)
    validate_credentials(type_name, credentials, allow_null=True)
    name = clean_name(name)
    _check_site_provider_rules(type_name, enabled, set_as_site_email_provider)
    return name


def _record(integration: Integration, actor, action: str, changes: list[str]) -> None:
    IntegrationAuditEvent.objects.create(
        workspace_id=integration.workspace_id,
        integration_id=integration.pk,
        integration_name=integration.name,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        action=action,
        changes=changes,
    )


def _lock_workspace(workspace_id) -> None:
    # Writers of one workspace's integrations queue on its row: flag moves cannot collide on the unique
    # index, and taking this lock before any integration row keeps the lock order deadlock-free.
    Workspace.objects.select_for_update().filter(pk=workspace_id).first()


def _take_site_email_provider_flag(integration: Integration, actor) -> None:
    """Move the flag to `integration` (saved by the caller, in the same transaction)."""
    _lock_workspace(integration.workspace_id)
    previous = (
        Integration.objects.filter(workspace_id=integration.workspace_id, is_site_email_provider=True)
        .exclude(pk=integration.pk)
        .only("id", "name", "workspace_id")
        .first()
    )
    if previous is not None:
        Integration.objects.filter(pk=previous.pk).update(is_site_email_provider=False, updated_at=timezone.now())
        _record(previous, actor, AuditAction.UPDATED, ["isSiteEmailProvider"])
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
    actor=None,
) -> Integration:
    """Validate and store a new integration; optionally make it the workspace's site email provider.

    `actor` (the user acting, if any) is recorded in the audit trail.
    """
    config, credentials = config or {}, credentials or {}
    name = check_integration_input(
        type, name=name, config=config, credentials=credentials, enabled=enabled,
        set_as_site_email_provider=set_as_site_email_provider,
    )  # fmt: skip
    config, credentials = merge_patch({}, config), merge_patch({}, credentials)
    integration = Integration(workspace=workspace, name=name, type=type, config=config, enabled=enabled)
    _set_credentials(integration, credentials)
    if set_as_site_email_provider:
        _take_site_email_provider_flag(integration, actor)
    integration.save()
    changes = ["name", "type", "enabled"] + [f"config.{k}" for k in sorted(config)]
    changes += [f"credentials.{k}" for k in sorted(credentials)] + (["isSiteEmailProvider"] if set_as_site_email_provider else [])
    _record(integration, actor, AuditAction.CREATED, changes)
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
    actor=None,
) -> Integration:
    """Apply a JSON Merge Patch to config and credentials and set the other given fields; returns the row.

    The type is fixed at creation. Disabling the site email provider clears its flag. The row is locked
    for the update, so concurrent patches of different keys both survive.
    """
    _lock_workspace(integration.workspace_id)
    integration = Integration.objects.select_for_update().get(pk=integration.pk)
    before = _audited_state(integration)
    if type is not _UNSET and type != integration.type:
        raise ValidationError({"type": ["The type of an integration cannot be changed; create a new one."]})
    if name is not _UNSET:
        integration.name = clean_name(name)
    if config_patch is not None:
        validate_config(integration.type, config_patch, allow_null=True)
        patched = merge_patch(integration.config, config_patch)
        check_credential_destination(integration.type, integration.config, patched, credentials_patch)
        integration.config = patched
    if credentials_patch is not None:
        validate_credentials(integration.type, credentials_patch, allow_null=True)
        _set_credentials(integration, merge_patch(integration.credentials, credentials_patch))
    if enabled is not _UNSET:
        integration.enabled = bool(enabled)
        if not integration.enabled:
            integration.is_site_email_provider = False
    if set_as_site_email_provider is not _UNSET:
        if set_as_site_email_provider:
            _check_site_provider_rules(integration.type, integration.enabled, True)
            _take_site_email_provider_flag(integration, actor)
        else:
            integration.is_site_email_provider = False
    changes = _changed_paths(before, _audited_state(integration))
    if credentials_patch:
        # A re-entered secret counts as a change even when its fingerprint is unchanged.
        changes = sorted(set(changes) | {f"credentials.{k}" for k in credentials_patch})
    integration.updated_at = timezone.now()
    integration.save()
    if changes:
        _record(integration, actor, AuditAction.UPDATED, changes)
    return integration


def _audited_state(integration: Integration) -> dict:
    """Field paths -> comparable values; credentials by fingerprint only, never by value."""
    state = {
        "name": integration.name,
        "enabled": integration.enabled,
        "isSiteEmailProvider": integration.is_site_email_provider,
    }
    state.update({f"config.{k}": v for k, v in integration.config.items()})
    state.update({f"credentials.{k}": v for k, v in integration.credential_fingerprints.items()})
    return state


def _changed_paths(before: dict, after: dict) -> list[str]:
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


@transaction.atomic
def delete_integration(integration: Integration, actor=None) -> None:
    """Delete the integration (its flag goes with it); its Email Log table and rows are kept."""
    _record(integration, actor, AuditAction.DELETED, [])
    integration.delete()


def audit_trail(integration: Integration):
    """The integration's audit events, newest first."""
    return IntegrationAuditEvent.objects.filter(integration_id=integration.pk).select_related("actor")


def credential_key_usage() -> dict[str, int]:
    """How many integrations hold credentials sealed under each key id, read from the stored values'
    `v1:<key id>:` prefix in one grouped query, without decrypting anything. A value in no known format
    counts under MALFORMED."""
    heads = (
        Integration.objects.exclude(credentials__isnull=True)
        .annotate(head=Substr("credentials", 1, SEALED_HEAD_LENGTH, output_field=CharField()))
        .values("head")
        .annotate(count=Count("pk"))
        .order_by()
        .values_list("head", "count")
    )
    usage: dict[str, int] = {}
    for head, count in heads:
        try:
            key_id = sealed_key_id(head or "")
        except EncryptionError:
            key_id = MALFORMED
        usage[key_id] = usage.get(key_id, 0) + count
    return usage


def reencrypt_all_credentials(batch_size: int = 500) -> dict:
    """Re-seal every stored credential under the first configured key; returns counts.

    Reads keyset batches of ciphertexts and writes each re-sealed value back only if the row still holds
    the ciphertext it read (compare-and-swap): a PATCH that commits in between is never overwritten, and
    its row, already sealed by the PATCH, is read again. Rows under the first key are skipped, so the
    command can be re-run after an interruption.
    """
    ring = key_ring()
    counts = {"reencrypted": 0, "already_current": 0}
    sealed_rows = Integration.objects.exclude(credentials__isnull=True).order_by("pk")
    last_pk = ""
    while batch := list(sealed_rows.filter(pk__gt=last_pk).values_list("pk", "credentials")[:batch_size]):
        last_pk = batch[-1][0]
        for pk, sealed in batch:
            while sealed is not None and sealed.key_id != ring.primary_key_id:
                resealed = Integration.credentials.field.reseal(Integration(pk=pk), sealed)
                if Integration.objects.filter(pk=pk, credentials=sealed).update(credentials=resealed):
                    counts["reencrypted"] += 1
                    break
                # A concurrent write replaced the ciphertext: re-read it and decide again.
                sealed = Integration.objects.filter(pk=pk).values_list("credentials", flat=True).first()
            else:
                counts["already_current"] += 1
    return counts


def disable_gone_integration(integration: Integration, detail: str) -> bool:
    """Disable an integration whose endpoint said it is gone (a webhook's 410), audited as a change by no person;
    `detail` is shown on its settings page. False when it was already disabled."""
    now = timezone.now()
    with transaction.atomic():
        changed = Integration.objects.filter(pk=integration.pk, enabled=True).update(
            enabled=False, last_check_ok=False, last_check_detail=detail[:1000], last_checked_at=now, updated_at=now
        )
        if changed:
            _record(integration, None, AuditAction.UPDATED, ["enabled"])
    return bool(changed)
