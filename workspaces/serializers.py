"""The workspace API's shapes: the workspace as its members see it, and the settings its OWNER changes."""

from rest_framework import serializers

from opbox.api import StrictSerializer

from .services import RETENTION_MAX_DAYS, RETENTION_MIN_DAYS


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer only: DRF would also take "30", 30.0 and true, hiding a client's bug."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class WorkspaceSerializer(serializers.Serializer):
    """The caller's workspace and their role in it (read from their Membership)."""

    slug = serializers.CharField(source="workspace.slug", read_only=True)
    name = serializers.CharField(source="workspace.name", read_only=True)
    role = serializers.CharField(read_only=True)
    emailLogRetentionDays = serializers.IntegerField(
        source="workspace.email_log_retention_days",
        read_only=True,
        allow_null=True,
        help_text="Email Log rows older than this many days are deleted; null keeps them forever.",
    )


class WorkspaceUpdateSerializer(StrictSerializer):
    emailLogRetentionDays = StrictIntegerField(
        min_value=RETENTION_MIN_DAYS,
        max_value=RETENTION_MAX_DAYS,
        allow_null=True,
        required=False,
        help_text=f"Days to keep Email Log rows ({RETENTION_MIN_DAYS} to {RETENTION_MAX_DAYS}); null keeps them forever.",
    )
