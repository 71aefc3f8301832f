"""The documents API's shapes: a render request in, a Document Log row (plus its download URL) out."""

import json

from django.urls import reverse
from rest_framework import serializers

from opbox.api import StrictCharField, StrictSerializer
from tables.serializers import RowSerializer

from .models import DocumentFormat, DocumentSource, DocumentStatus
from .rendering import DATA_MAX_BYTES, TEMPLATE_ID, RenderRequest


def validate_template_id(value: str) -> str:
    if not TEMPLATE_ID.fullmatch(value):
        raise serializers.ValidationError("A Carbone template id or version id: letters, digits, '.', '_', ':' or '-'.")
    return value


def validate_data(value) -> dict:
    if not isinstance(value, dict):
        raise serializers.ValidationError("A JSON object.")
    if len(json.dumps(value, separators=(",", ":")).encode()) > DATA_MAX_BYTES:
        raise serializers.ValidationError(f"At most {DATA_MAX_BYTES // 1024} KiB of JSON.")
    return value


class RenderFields(StrictSerializer):
    """What every render takes: `templateId`, `data`, `convertTo` (the shape of an email's `document` too)."""

    templateId = StrictCharField(max_length=255, validators=[validate_template_id])
    data = serializers.JSONField(validators=[validate_data])
    convertTo = serializers.ChoiceField(choices=DocumentFormat.values, default=DocumentFormat.PDF)


class RenderDocumentSerializer(RenderFields):
    filename = StrictCharField(max_length=255, required=False, allow_blank=True, default="")
    integrationId = StrictCharField(max_length=64, required=False, allow_blank=True, default="")
    source = serializers.ChoiceField(choices=DocumentSource.values, default=DocumentSource.WORKFLOW_EMAIL)

    def render_request(self) -> RenderRequest:
        data = self.validated_data
        return RenderRequest(data["templateId"], data["data"], data["convertTo"], data["filename"], data["source"])


class DocumentSerializer(RowSerializer):
    """The Document Log row (`{"id", "createdAt", "values"}`) plus its table and, once generated, `downloadUrl`."""

    tableId = serializers.CharField(source="table_id")
    downloadUrl = serializers.SerializerMethodField()

    def get_downloadUrl(self, document) -> str | None:
        if document.status != DocumentStatus.GENERATED:
            return None
        path = reverse("document-file", args=[document.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class FailedDocumentSerializer(serializers.Serializer):
    detail = serializers.CharField()
    row = DocumentSerializer()
