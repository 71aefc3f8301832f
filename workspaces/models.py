"""Tenancy: workspaces, the people in them with a role, and the API tokens that act for a membership."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone

from opbox.ids import PublicIdField


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractUser):
    """A person; logs in with an email address, which is unique regardless of case."""

    username = None
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self):
        return self.email


class Workspace(models.Model):
    id = PublicIdField()
    slug = models.SlugField(max_length=63, unique=True)
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Email Log rows older than this many days are purged (SPEC §12); null keeps them forever.
    email_log_retention_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email_log_retention_days__isnull=True)
                | models.Q(email_log_retention_days__gte=7, email_log_retention_days__lte=3650),
                name="email_log_retention_days_in_range",
            ),
        ]

    def __str__(self):
        return self.name or self.slug


class Role(models.TextChoices):
    OWNER = "OWNER", "Owner"
    ADMIN = "ADMIN", "Admin"
    MEMBER = "MEMBER", "Member"


class RequestSource(models.TextChoices):
    """Where in the workspace an email or a document was asked for: the eight labels of the seed."""

    WORKFLOW_AUTOMATION = "Workflow Automation"
    MATTER_EMAIL_STEP = "Matter Email Step"
    MATTER_FORM_STEP = "Matter Form Step"
    WORKFLOW_STEP = "Workflow Step"
    WORKFLOW_EMAIL = "Workflow Email"
    FORM_SEND = "Form Send"
    SUBMISSION_SHARE = "Submission Share"
    MATTER_STEP = "Matter Step"


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="one_membership_per_user_and_workspace"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="membership_role_is_known"),
        ]

    def __str__(self):
        return f"{self.user} in {self.workspace} ({self.role})"

    @property
    def is_admin(self) -> bool:
        """OWNER and ADMIN may change integrations; MEMBER may only read and send."""
        return self.role in (Role.OWNER, Role.ADMIN)

    @property
    def is_owner(self) -> bool:
        """Only an OWNER changes the workspace's own settings and answers erasure requests."""
        return self.role == Role.OWNER


TOKEN_PREFIX = "opbx_"
LOOKUP_LENGTH = 12  # characters of the random part stored in clear to find the row


def token_digest(token: str) -> str:
    # The token carries 256 random bits, so a plain SHA-256 is enough: nothing to brute-force.
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A bearer token for one membership. Only its digest and a lookup prefix are stored."""

    id = PublicIdField()
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="tokens")
    name = models.CharField(max_length=100, blank=True)
    lookup = models.CharField(max_length=LOOKUP_LENGTH, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"

    def __str__(self):
        return f"{TOKEN_PREFIX}{self.lookup}… ({self.membership})"

    @classmethod
    def issue(cls, membership: Membership, name: str = "") -> tuple["ApiToken", str]:
        """Create a token and return it with its plaintext, which is never stored or shown again."""
        random_part = secrets.token_urlsafe(32)  # 32 bytes = 256 bits
        plaintext = TOKEN_PREFIX + random_part
        token = cls.objects.create(
            membership=membership, name=name, lookup=random_part[:LOOKUP_LENGTH], digest=token_digest(plaintext)
        )
        return token, plaintext

    def revoke(self):
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


class AuditEvent(models.Model):
    """Who changed what in a workspace, beyond its integrations (which keep their own trail): settings,
    suppressions, erasures. `changes` holds field paths and non-personal values, never secrets or an
    erased address.
    """

    id = PublicIdField()
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="audit_events")
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=64)  # e.g. "workspace.updated", "suppression.added", "privacy.erased"
    target = models.CharField(max_length=320, blank=True, default="")  # what it acted on, when that is not personal
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="audit_event_newest_first")]

    def __str__(self):
        return f"{self.action} {self.target}".strip()


class WorkspaceEventType(models.TextChoices):
    """What happened in a workspace that its subscribing integrations hear about (SPEC §15)."""

    EMAIL_SENT = "email.sent"
    EMAIL_FAILED = "email.failed"
    EMAIL_DELIVERED = "email.delivered"
    EMAIL_BOUNCED = "email.bounced"
    EMAIL_COMPLAINED = "email.complained"
    EMAIL_OPENED = "email.opened"
    EMAIL_CLICKED = "email.clicked"
    DOCUMENT_GENERATED = "document.generated"
    DOCUMENT_FAILED = "document.failed"
    INTEGRATION_CHECK_FAILED = "integration.check_failed"
    INTEGRATION_RECONNECT_NEEDED = "integration.reconnect_needed"


class WorkspaceEvent(models.Model):
    """The transactional outbox of workspace events: written in the transaction of the change that causes
    it (`workspaces.events.record_event`), so an event is never lost and never recorded for a change that
    rolled back. `data` is the body's `data` (SPEC §15): never a credential.
    """

    id = PublicIdField()  # time first: the order a fan-out reads them in
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40, choices=WorkspaceEventType.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # When the deliveries' fan-out made this event's deliveries (null: not yet); the partial index below is
    # the fan-out's queue, so it never scans the events already fanned out.
    fanned_out_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["created_at", "id"], name="workspace_event_in_order"),
            models.Index(fields=["created_at", "id"], condition=models.Q(fanned_out_at__isnull=True), name="workspace_event_to_fan_out"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(type__in=WorkspaceEventType.values), name="workspace_event_type_is_known"),
        ]

    def __str__(self):
        return f"{self.type} in {self.workspace_id}"
