import base64
import binascii

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from opbox.api import StrictCharField, StrictSerializer

from integrations.providers import Attachment, OutboundMessage


@extend_schema_field(
    {"oneOf": [{"type": "string", "format": "email"}, {"type": "array", "items": {"type": "string", "format": "email"}}]}
)
class AddressListField(serializers.Field):
    """A string ("a@x.com" or "a@x.com, b@y.com") or a list of strings -> a list of trimmed addresses."""

    default_error_messages = {"invalid": "Give an address or a list of addresses."}

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = data.split(",")
        if not isinstance(data, list) or not all(isinstance(item, str) for item in data):
            self.fail("invalid")
        return [address.strip() for address in data if address.strip()]

    def to_representation(self, value):
        return value


class Base64Field(StrictCharField):
    """Base64 text in, the decoded bytes out."""

    default_error_messages = {"base64": "Not valid base64."}

    def to_internal_value(self, data):
        try:
            return base64.b64decode(super().to_internal_value(data), validate=True)
        except (binascii.Error, ValueError):
            self.fail("base64")


class AttachmentSerializer(StrictSerializer):
    filename = StrictCharField(max_length=255)
    contentType = StrictCharField(max_length=255, required=False, default="application/octet-stream")
    content = Base64Field(trim_whitespace=False, help_text="The file, base64-encoded.")


class SendEmailSerializer(StrictSerializer):
    to = AddressListField()
    cc = AddressListField(required=False, default=list)
    bcc = AddressListField(required=False, default=list)
    subject = StrictCharField()
    html = StrictCharField(required=False, default="", allow_blank=True, trim_whitespace=False)
    text = StrictCharField(required=False, default="", allow_blank=True, trim_whitespace=False)
    templateId = StrictCharField(required=False, default="", allow_blank=True, max_length=255)
    templateData = serializers.DictField(required=False, default=dict)
    attachments = AttachmentSerializer(many=True, required=False, default=list)
    integrationId = StrictCharField(required=False, allow_blank=True, default="")

    def message(self) -> OutboundMessage:
        data = self.validated_data
        return OutboundMessage(
            to=data["to"],
            cc=data["cc"],
            bcc=data["bcc"],
            subject=data["subject"],
            html=data["html"],
            text=data["text"],
            template_id=data["templateId"],
            template_data=data["templateData"] or None,
            attachments=[Attachment(a["filename"], a["contentType"], a["content"]) for a in data["attachments"]],
        )


class InitTableSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    systemType = serializers.CharField(source="system_type")


class InitResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    tables = InitTableSerializer(many=True)
