"""Services and selectors for tenancy: the management commands, admin and pages all call these."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import transaction
from django.utils import timezone

from .models import ApiToken, AuditEvent, Membership, Role, Workspace
from .signals import email_log_retention_changed

SESSION_WORKSPACE_KEY = "workspace_id"
# Recording every use would turn each read into a write; a minute is precise enough for "last used".
TOKEN_LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long Email Log rows may be kept, in days (SPEC §12; the database checks the same range).
RETENTION_MIN_DAYS, RETENTION_MAX_DAYS = 7, 3650


def create_workspace(slug: str, name: str = "") -> Workspace:
    """Create a workspace; its name defaults to the slug."""
    validate_slug(slug)
    if Workspace.objects.filter(slug=slug).exists():
        raise ValidationError(f"A workspace with slug {slug!r} already exists.")
    return Workspace.objects.create(slug=slug, name=name or slug)


@transaction.atomic
def add_member(workspace: Workspace, email: str, role: str, password: str | None = None) -> Membership:
    """Give the user with `email` (created if needed) `role` in `workspace`; a second call changes the role."""
    if role not in Role.values:
        raise ValidationError(f"Role must be one of {', '.join(Role.values)}.")
    validate_email(email)
    User = get_user_model()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, created = Membership.objects.get_or_create(user=user, workspace=workspace, defaults={"role": role})
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def create_token(workspace: Workspace, email: str, name: str = "") -> str:
    """Issue an API token for the member `email` of `workspace` and return its plaintext (shown once)."""
    membership = Membership.objects.filter(workspace=workspace, user__email__iexact=email).first()
    if membership is None:
        raise ValidationError(f"{email} is not a member of {workspace.slug}.")
    _, plaintext = ApiToken.issue(membership, name=name)
    return plaintext


def touch_token(token: ApiToken) -> None:
    """Record that `token` was used, at most once per TOKEN_LAST_USED_RESOLUTION."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= TOKEN_LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def memberships_of(user) -> list[Membership]:
    return list(Membership.objects.filter(user=user).select_related("workspace").order_by("workspace__name"))


def session_membership(request) -> Membership | None:
    """The membership of a logged-in browser user in the workspace kept in their session.

    Falls back to their first workspace (and remembers it) when the session names none or a stale one.
    """
    user = request.user
    if not user or not user.is_authenticated:
        return None
    memberships = Membership.objects.filter(user=user).select_related("workspace", "user")
    workspace_id = request.session.get(SESSION_WORKSPACE_KEY)
    membership = memberships.filter(workspace_id=workspace_id).first() if workspace_id else None
    if membership is None:
        membership = memberships.order_by("created_at", "pk").first()
        if membership is not None:
            request.session[SESSION_WORKSPACE_KEY] = membership.workspace_id
    return membership


def switch_workspace(request, workspace_id: str) -> Membership | None:
    """Make `workspace_id` the session's current workspace if the user belongs to it."""
    membership = Membership.objects.filter(user=request.user, workspace_id=workspace_id).select_related("workspace").first()
    if membership is not None:
        request.session[SESSION_WORKSPACE_KEY] = membership.workspace_id
    return membership


def set_email_log_retention(workspace: Workspace, days: int | None, *, actor=None) -> Workspace:
    """Keep the workspace's Email Log rows `days` days (None: forever), audited; unchanged, nothing is written.

    Rows older than that are purged by the email_logs purge task, which this change wakes through the
    `email_log_retention_changed` signal.
    """
    whole = isinstance(days, int) and not isinstance(days, bool)
    if days is not None and not (whole and RETENTION_MIN_DAYS <= days <= RETENTION_MAX_DAYS):
        message = f"Give a whole number of days from {RETENTION_MIN_DAYS} to {RETENTION_MAX_DAYS}, or null to keep rows forever."
        raise ValidationError({"emailLogRetentionDays": [message]})
    with transaction.atomic():
        locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
        before = locked.email_log_retention_days
        if before != days:
            locked.email_log_retention_days = days
            locked.save(update_fields=["email_log_retention_days"])
            AuditEvent.objects.create(
                workspace=locked,
                actor=actor,
                action="workspace.updated",
                target=locked.slug,
                changes={"emailLogRetentionDays": {"from": before, "to": days}},
            )
            transaction.on_commit(lambda: email_log_retention_changed.send(sender=Workspace, workspace=locked, days=days))
    workspace.email_log_retention_days = locked.email_log_retention_days
    return locked
