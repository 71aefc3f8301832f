"""Documents rendered by a workspace's document engine: one row each, generated or failed, in the Document Log
of the integration that rendered it. The bytes live in `STORAGES["documents"]` under `storage_name`.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.models import Integration
from opbox.ids import PublicIdField
from tables.models import Table
from workspaces.models import RequestSource, Workspace


class DocumentStatus(models.TextChoices):
    GENERATED = "generated"
    FAILED = "failed"


class DocumentFormat(models.TextChoices):
    """What Carbone converts to (`convertTo`), with the Content-Type the file is served with."""

    PDF = "pdf"
    DOCX = "docx"
    ODT = "odt"
    XLSX = "xlsx"
    HTML = "html"


CONTENT_TYPES = {
    DocumentFormat.PDF: "application/pdf",
    DocumentFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    DocumentFormat.ODT: "application/vnd.oasis.opendocument.text",
    DocumentFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    DocumentFormat.HTML: "text/html",
}


DocumentSource = RequestSource  # where a document was asked for (an email's labels)


class Document(models.Model):
    id = PublicIdField()
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="documents")
    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="documents")  # its Document Log
    # Kept when the integration is deleted: the log is a record.
    integration = models.ForeignKey(Integration, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    generated_at = models.DateTimeField(default=timezone.now)
    template_id = models.CharField(max_length=255)
    format = models.CharField(max_length=8, choices=DocumentFormat.choices)
    filename = models.CharField(max_length=255)
    size = models.BigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=DocumentStatus.choices)
    error = models.TextField(blank=True, default="")
    source = models.CharField(max_length=32, choices=DocumentSource.choices)
    email_id = models.CharField(max_length=64, blank=True, default="")  # the email it was attached to, if any
    storage_name = models.CharField(max_length=255, blank=True, default="")  # "" when nothing was stored
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["table", "-generated_at", "-id"], name="document_log_newest_first"),
            models.Index(fields=["workspace", "generated_at"], name="document_by_age"),
            models.Index(fields=["email_id"], condition=~Q(email_id=""), name="document_by_email"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DocumentStatus.values), name="document_status_is_known"),
            models.CheckConstraint(condition=Q(format__in=DocumentFormat.values), name="document_format_is_known"),
            models.CheckConstraint(condition=Q(source__in=DocumentSource.values), name="document_source_is_known"),
            models.CheckConstraint(condition=Q(size__gte=0), name="document_size_not_negative"),
            # A generated document has its bytes; a failed one has none stored and says why.
            models.CheckConstraint(
                condition=(Q(status=DocumentStatus.GENERATED) & ~Q(storage_name=""))
                | (Q(status=DocumentStatus.FAILED) & Q(storage_name="") & ~Q(error="")),
                name="document_stored_iff_generated",
            ),
            models.UniqueConstraint(fields=["storage_name"], condition=~Q(storage_name=""), name="one_document_per_stored_file"),
        ]

    def __str__(self):
        return self.filename

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[DocumentFormat(self.format)]
