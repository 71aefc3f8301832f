from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "documents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.urls import reverse

        from tables.models import SystemType
        from tables.registry import RowFilter, RowSource, register

        from . import signals  # noqa: F401  (a DOCUMENT_ENGINE integration saved gets its Document Log)
        from .log_tables import ensure_document_log_tables
        from .models import Document, DocumentFormat, DocumentSource, DocumentStatus

        register(
            SystemType.DOCUMENT_LOG,
            RowSource(
                rows=lambda table: Document.objects.filter(table=table),
                ordering=("generated_at", "id"),
                filters=(
                    RowFilter("status", "status", "Status", tuple(DocumentStatus.values)),
                    # `format` is DRF's renderer override parameter: the filter takes the name the API gives the value.
                    RowFilter("convertTo", "format", "Format", tuple(DocumentFormat.values)),
                    RowFilter("source", "source", "Source", tuple(DocumentSource.values)),
                ),
                search_fields=("filename", "template_id"),
                search_label="Search Filename or Template ID",
                failure_field="status",
                failure_value=DocumentStatus.FAILED,
                reason_field="error",
                row_noun="documents",
                empty_text=(
                    "Every document this workspace renders through this engine is logged here, generated or failed: "
                    "from the API (POST /api/documents) and as email attachments."
                ),
                empty_admin_hint="Render a test document from Settings · Integrations to see the first row.",
                ensure_tables=ensure_document_log_tables,
                row_url=lambda table_id, row_id: reverse("documents:document", args=[table_id, row_id]),
                link_field="filename",
                # Documents are records of the same workflows as the emails they went with: kept as long.
                retention_days=lambda workspace: workspace.email_log_retention_days,
            ),
        )
