"""Documents made directly (without Carbone), for tests of what reads them."""

from django.core.files.base import ContentFile

from documents.log_tables import ensure_document_log_table
from documents.models import Document, DocumentStatus
from documents.rendering import document_storage
from opbox.ids import new_public_id


def add_document(integration, content: bytes = b"%PDF-1.7 test", *, filename="letter.pdf", email_id="", **fields) -> Document:
    """A generated document of `integration` with `content` stored."""
    document_id = new_public_id()
    name = document_storage().save(f"{integration.workspace_id}/{document_id}.pdf", ContentFile(content))
    return Document.objects.create(
        id=document_id, workspace_id=integration.workspace_id, table=ensure_document_log_table(integration),
        integration=integration, template_id="tpl-letter", format="pdf", filename=filename, size=len(content),
        status=DocumentStatus.GENERATED, source="Workflow Email", email_id=email_id, storage_name=name, **fields,
    )  # fmt: skip
