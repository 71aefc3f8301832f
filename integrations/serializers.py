"""Serializers translate between the seed's JSON and the service arguments and check only its shape: each type's
rules (types.py) are checked by the services, as for the forms. Serializers never write.
"""

from rest_framework import serializers

from opbox.api import StrictBooleanField, StrictCharField, StrictSerializer, TimestampField

from .types import MAX_NAME_LENGTH, TYPES, fingerprint_key


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


class AuditEventSerializer(serializers.Serializer):
    id = serializers.CharField()
    action = serializers.CharField()
    changes = serializers.ListField(child=serializers.CharField())
    actor = serializers.SerializerMethodField()
    createdAt = TimestampField(source="created_at")

    def get_actor(self, event) -> str | None:
        return event.actor.email if event.actor else None
