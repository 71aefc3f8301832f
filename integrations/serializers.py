"""Serializers translate between the seed's JSON and the service arguments and check only its shape: each type's
rules (types.py) are checked by the services, as for the forms. Serializers never write.
"""

from rest_framework import serializers

from opbox.api import StrictBooleanField, StrictCharField, StrictSerializer, TimestampField, iso_timestamp

from .services import webhook_url
from .types import MAX_NAME_LENGTH, TYPES, fingerprint_key


def _config(config: dict, fingerprints: dict) -> dict:
    return {**config, **{fingerprint_key(name): value for name, value in fingerprints.items()}}


def integration_data(row: dict) -> dict:
    """IntegrationSerializer's shape, built from a `services.integration_rows` row without its machinery
    (which costs more than the answer on the list's hot path). The serializer still documents it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "type": row["type"],
        "config": _config(row["config"], row["credential_fingerprints"]),
        "enabled": row["enabled"],
        "isSiteEmailProvider": row["is_site_email_provider"],
        "createdAt": iso_timestamp(row["created_at"]),
        "updatedAt": iso_timestamp(row["updated_at"]),
    }


def integration_detail_data(integration, request=None) -> dict:
    """IntegrationDetailSerializer's shape, in the seed's key order, from an Integration (`request` makes the
    webhook URL absolute)."""
    return {
        "id": integration.id,
        "name": integration.name,
        "type": integration.type,
        "config": _config(integration.config, integration.credential_fingerprints),
        "enabled": integration.enabled,
        "credentialsConfigured": integration.credentials_configured,
        "isSiteEmailProvider": integration.is_site_email_provider,
        "createdAt": iso_timestamp(integration.created_at),
        "updatedAt": iso_timestamp(integration.updated_at),
        "lastCheckedAt": iso_timestamp(integration.last_checked_at),
        "lastCheckOk": integration.last_check_ok,
        "lastCheckDetail": integration.last_check_detail or None,
        "webhookUrl": webhook_url(integration, request),
        "lastEventAt": iso_timestamp(integration.last_event_at),
    }


class IntegrationSerializer(serializers.Serializer):
    """The list shape of the seed: config carries a fingerprint per stored credential."""

    id = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True)
    config = serializers.SerializerMethodField()
    enabled = serializers.BooleanField(read_only=True)
    isSiteEmailProvider = serializers.BooleanField(source="is_site_email_provider", read_only=True)
    createdAt = TimestampField(source="created_at")
    updatedAt = TimestampField(source="updated_at")

    def get_config(self, integration) -> dict:
        fingerprints = {fingerprint_key(name): value for name, value in integration.credential_fingerprints.items()}
        return {**integration.config, **fingerprints}


class IntegrationDetailSerializer(IntegrationSerializer):
    credentialsConfigured = serializers.BooleanField(source="credentials_configured", read_only=True)
    # The last connection check (POST /api/integrations/<id>/check): null until the first.
    lastCheckedAt = TimestampField(source="last_checked_at", allow_null=True)
    lastCheckOk = serializers.BooleanField(source="last_check_ok", read_only=True, allow_null=True)
    # The last check's sentence (never a secret); null until the first check.
    lastCheckDetail = serializers.SerializerMethodField()
    # Email integrations: the URL their provider posts signed events to, and when it last did (null for other types).
    webhookUrl = serializers.SerializerMethodField()
    lastEventAt = TimestampField(source="last_event_at", allow_null=True)

    def get_lastCheckDetail(self, integration) -> str | None:
        return integration.last_check_detail or None

    def get_webhookUrl(self, integration) -> str | None:
        return webhook_url(integration, self.context.get("request"))

    def to_representation(self, integration):
        # The seed's key order: credentialsConfigured comes after enabled.
        data = super().to_representation(integration)
        ordered = {}
        for key, value in data.items():
            if key == "credentialsConfigured":
                continue
            ordered[key] = value
            if key == "enabled":
                ordered["credentialsConfigured"] = data["credentialsConfigured"]
        return ordered


class _StringMap(serializers.DictField):
    """An object of strings (or nulls, which a merge patch uses to remove a key); checked per type later."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.JSONField(allow_null=True), **kwargs)


class IntegrationCreateSerializer(StrictSerializer):
    name = StrictCharField(max_length=MAX_NAME_LENGTH, trim_whitespace=True)
    type = serializers.ChoiceField(choices=list(TYPES))
    config = _StringMap(required=False)
    credentials = _StringMap(required=False)
    enabled = StrictBooleanField(required=False, default=True)
    setAsSiteEmailProvider = StrictBooleanField(required=False, default=False)

    def create_arguments(self) -> dict:
        """Keyword arguments of `services.create_integration` (after the workspace)."""
        data = self.validated_data
        return {
            "name": data["name"],
            "type": data["type"],
            "config": data.get("config") or {},
            "credentials": data.get("credentials") or {},
            "enabled": data["enabled"],
            "set_as_site_email_provider": data["setAsSiteEmailProvider"],
        }


class IntegrationUpdateSerializer(StrictSerializer):
    name = StrictCharField(max_length=MAX_NAME_LENGTH, trim_whitespace=True, required=False)
    type = StrictCharField(required=False)
    config = _StringMap(required=False)
    credentials = _StringMap(required=False)
    enabled = StrictBooleanField(required=False)
    setAsSiteEmailProvider = StrictBooleanField(required=False)

    def update_arguments(self) -> dict:
        """Keyword arguments of `services.update_integration` (after the integration)."""
        names = {
            "name": "name",
            "type": "type",
            "config": "config_patch",
            "credentials": "credentials_patch",
            "enabled": "enabled",
            "setAsSiteEmailProvider": "set_as_site_email_provider",
        }
        return {names[key]: value for key, value in self.validated_data.items()}


class IntegrationStatsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    enabled = serializers.IntegerField()
    disabled = serializers.IntegerField()
    byType = serializers.DictField(child=serializers.IntegerField())


class EmailTemplateSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    created_at = TimestampField()


class EmailTemplateListSerializer(serializers.Serializer):
    templates = EmailTemplateSerializer(many=True)


class ConnectionCheckSerializer(serializers.Serializer):
    """A connection check's answer: passed or not, when, its sentence, and (email and document types, when it
    passed) the templates it listed. A failure has the same shape, with the status of what failed."""

    ok = serializers.BooleanField()
    checkedAt = TimestampField()
    detail = serializers.CharField()
    templates = EmailTemplateSerializer(many=True, required=False)


def check_data(outcome) -> dict:
    """ConnectionCheckSerializer's shape from a `connection_checks.CheckOutcome`."""
    data = {"ok": outcome.ok, "checkedAt": iso_timestamp(outcome.checked_at), "detail": outcome.detail}
    if outcome.templates is not None:
        data["templates"] = EmailTemplateSerializer(outcome.templates, many=True).data
    return data


class AuditEventSerializer(serializers.Serializer):
    id = serializers.CharField()
    action = serializers.CharField()
    changes = serializers.ListField(child=serializers.CharField())
    actor = serializers.SerializerMethodField()
    createdAt = TimestampField(source="created_at")

    def get_actor(self, event) -> str | None:
        return event.actor.email if event.actor else None
