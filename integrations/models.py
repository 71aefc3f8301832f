from django.db import models
from django.db.models import Q
from django.utils import timezone

from opbox.ids import PublicIdField
from workspaces.models import Workspace

from .fields import EncryptedJSONField
from .types import EMAIL_PROVIDER_TYPES, MAX_NAME_LENGTH, TYPES, IntegrationType, definition_for


class IntegrationQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def email_providers(self):
        return self.filter(type__in=EMAIL_PROVIDER_TYPES)

    def without_secrets(self):
        """Skip loading the ciphertext: lists and stats only need the stored fingerprints."""
        return self.defer("credentials")


class Integration(models.Model):
    """A workspace's connection to an external service; credentials sealed at rest, fingerprints in clear."""

    id = PublicIdField()
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="integrations")
    name = models.CharField(max_length=MAX_NAME_LENGTH)
    type = models.CharField(max_length=32, choices=IntegrationType.choices)
    config = models.JSONField(default=dict, blank=True)
    credentials = EncryptedJSONField(default=dict, blank=True)
    # Written with the credentials so reading a list never decrypts: {"apiKey": "key.a1b2...****"}.
    credential_fingerprints = models.JSONField(default=dict, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    is_site_email_provider = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    # When the provider's last verified webhook request came (email integrations); not a change, so not updated_at.
    last_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last connection check with the stored values (API, settings page, the periodic re-check): when, whether
    # it passed, and its sentence (never a secret: the clients scrub every credential out of it).
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_check_ok = models.BooleanField(null=True, blank=True, editable=False)
    last_check_detail = models.TextField(blank=True, default="", editable=False)
    # OAuth (CLOUD_STORAGE): when the stored access token expires (unknown until the first refresh), and whether
    # the refresh token was refused, after which nothing refreshes until the credentials are changed.
    token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    reconnect_needed = models.BooleanField(default=False, editable=False)

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="integration_newest_first")]
        constraints = [
            # At most one site email provider per workspace, whatever the code above does.
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(is_site_email_provider=True), name="one_site_email_provider_per_workspace"
            ),
            models.CheckConstraint(
                condition=Q(is_site_email_provider=False) | Q(type__in=EMAIL_PROVIDER_TYPES, enabled=True),
                name="site_email_provider_is_an_enabled_email_integration",
            ),
            models.CheckConstraint(condition=Q(type__in=list(TYPES)), name="integration_type_is_known"),
        ]

    def __str__(self):
        return f"{self.name} ({self.type})"

    @property
    def definition(self):
        return definition_for(self.type)

    @property
    def is_email_provider(self) -> bool:
        return self.type in EMAIL_PROVIDER_TYPES

    @property
    def credentials_configured(self) -> bool:
        """True when every required credential of the type has a value (judged from the fingerprints)."""
        return all(name in self.credential_fingerprints for name in self.definition.required_credentials)

    @property
    def webhook_secret_configured(self) -> bool:
        """Whether the webhook setting has a value, judged without decrypting anything."""
        name = self.definition.webhook_secret
        return bool(name) and (name in self.credential_fingerprints or bool(self.config.get(name)))

    @property
    def webhook_secret(self) -> str:
        """What authenticates the provider's webhooks (a credential or a config value); "" when not set.

        Reading a credential decrypts it (EncryptionError when the key ring cannot).
        """
        name = self.definition.webhook_secret
        if not name:
            return ""
        stored = self.credentials if name in self.definition.credential_fields else self.config
        return stored.get(name) or ""


class AuditAction(models.TextChoices):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


class IntegrationAuditEvent(models.Model):
    """Who changed which fields of an integration, and when. Never the values of credentials."""

    id = PublicIdField()
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="integration_audit_events")
    # Plain id and name, not a foreign key: the trail outlives the integration it describes.
    integration_id = models.CharField(max_length=25, db_index=True)
    integration_name = models.CharField(max_length=MAX_NAME_LENGTH)
    actor = models.ForeignKey("workspaces.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    # Field paths such as "name", "enabled", "isSiteEmailProvider", "config.fromEmail", "credentials.apiKey".
    changes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["integration_id", "-created_at"], name="audit_by_integration")]

    def __str__(self):
        return f"{self.action} {self.integration_name} ({', '.join(self.changes)})"


class IntegrationPace(models.Model):
    """An integration's turn to call its service, shared by every worker process and node (SPEC §10, §15).

    Changed only by conditional UPDATEs (see integrations/pacing.py), so the database serialises the turns:
    a row lock on PostgreSQL, the one writer on SQLite.
    """

    integration = models.OneToOneField(Integration, on_delete=models.CASCADE, primary_key=True, related_name="+")
    last_call_at = models.DateTimeField(null=True, blank=True)  # when the latest call took its turn
    next_slot_at = models.DateTimeField(null=True, blank=True)  # the first turn no waiting sender has reserved
    paused_until = models.DateTimeField(null=True, blank=True)  # a 429's Retry-After: nobody calls before it

    def __str__(self):
        return f"pace of {self.integration_id}"
