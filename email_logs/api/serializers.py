import base64
import binascii

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from documents.attachments import DocumentAttachment
from documents.serializers import RenderFields
from integrations.providers import Attachment, OutboundMessage
from opbox.api import StrictCharField, StrictSerializer, TimestampField
from tables.serializers import RowSerializer

from ..sending.intake import MAX_BATCH


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
    """A file given as base64 `content`, or a `document` rendered from a template when the email is sent."""

    filename = StrictCharField(max_length=255)
    contentType = StrictCharField(max_length=255, required=False, default="application/octet-stream")
    content = Base64Field(trim_whitespace=False, required=False, help_text="The file, base64-encoded.")
    document = RenderFields(required=False, help_text="Rendered by the document engine when the email is sent (SPEC §14).")

    def validate(self, attrs):
        if ("content" in attrs) == ("document" in attrs):
            raise serializers.ValidationError("Give either content (base64) or document ({templateId, data, convertTo}).")
        return attrs


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
        return self.message_from(self.validated_data)

    @staticmethod
    def message_from(data: dict) -> OutboundMessage:
        """The message one validated body describes (a batch validates many with one serializer)."""
        return OutboundMessage(
            to=data["to"],
            cc=data["cc"],
            bcc=data["bcc"],
            subject=data["subject"],
            html=data["html"],
            text=data["text"],
            template_id=data["templateId"],
            template_data=data["templateData"] or None,
            attachments=[
                DocumentAttachment.of(a["filename"], a["document"]) if "document" in a else Attachment(a["filename"], a["contentType"], a["content"])
                for a in data["attachments"]
            ],
        )


@extend_schema_field(SendEmailSerializer(many=True))
class EmailListField(serializers.ListField):
    """A list of `POST /api/emails` bodies, each validated like one (by the batch serializer, so that every
    invalid one is named, whatever is wrong with it)."""

    child = serializers.JSONField()


class SendEmailBatchSerializer(StrictSerializer):
    """`{"emails": [EMAIL, ...]}`; an invalid email is named by its index: `{"emails": {"3": {"to": [...]}}}`."""

    emails = EmailListField(min_length=1, max_length=MAX_BATCH)

    def validate_emails(self, items: list) -> list[dict]:
        email = SendEmailSerializer()  # one serializer validates them all: its fields are bound once
        emails, errors = [], {}
        for index, item in enumerate(items):
            try:
                emails.append(email.run_validation(item))
            except serializers.ValidationError as error:
                errors[str(index)] = error.detail
        if errors:
            raise serializers.ValidationError(errors)
        return emails

    def messages(self) -> list[OutboundMessage]:
        return [SendEmailSerializer.message_from(data) for data in self.validated_data["emails"]]

    def integration_ids(self) -> list[str | None]:
        return [data["integrationId"] or None for data in self.validated_data["emails"]]


class SendEmailBatchResultSerializer(serializers.Serializer):
    results = RowSerializer(many=True)


class InitTableSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    systemType = serializers.CharField(source="system_type")


class InitResponseSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    tables = InitTableSerializer(many=True)


class EmailEventSerializer(serializers.Serializer):
    type = serializers.CharField()
    recipient = serializers.CharField()
    occurredAt = TimestampField(source="occurred_at")
    detail = serializers.CharField()


class EmailDetailSerializer(RowSerializer):
    """The row shape of the Email Log plus the table, the provider calls made and the events, oldest first."""

    tableId = serializers.CharField(source="table_id")
    attempts = serializers.IntegerField(source="attempts_so_far", read_only=True)
    events = EmailEventSerializer(many=True)


class SuppressionSerializer(serializers.Serializer):
    address = serializers.SerializerMethodField()
    reason = serializers.CharField()
    createdAt = TimestampField(source="created_at")
    emailId = serializers.CharField(source="entry_id", allow_null=True)

    def get_address(self, suppression) -> str | None:
        """The address, lower-cased; null once erased (it stays suppressed by its hash)."""
        return suppression.address or None


class AddSuppressionSerializer(StrictSerializer):
    address = StrictCharField(max_length=320, help_text="Compared case-insensitively; stored lower-cased.")
