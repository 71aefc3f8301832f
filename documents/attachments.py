"""Documents as email attachments (SPEC §14): `{"filename", "document": {"templateId", "data", "convertTo"}}`.

The email app calls three functions, and knows nothing else of documents:
- `attachment_problems` at intake: the template id, the format, the data (a JSON object of at most 1 MiB);
- `render_attachments` in the worker, before the provider call: each document not yet rendered is rendered once,
  its row naming the email, and its id written into the outbox payload in the same transaction as the row;
  so every retry, and a resend after a crash, finds the id and attaches the stored bytes without rendering again;
- `attachment_from_payload` whenever the message is built: the stored bytes of a rendered document.
"""

import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from integrations.providers import Attachment
from opbox.errors import ApplicationError
from workspaces.models import Workspace

from .models import CONTENT_TYPES, Document, DocumentFormat, DocumentSource
from .rendering import DATA_MAX_BYTES, TEMPLATE_ID, DocumentFailed, RenderRequest, read_document, render_document, save_with_event


@dataclass(frozen=True)
class DocumentAttachment(Attachment):
    """An attachment rendered from a template when the email is sent; `content` stays empty until then."""

    template_id: str = ""
    data: dict = field(default_factory=dict, repr=False)
    convert_to: str = DocumentFormat.PDF

    @classmethod
    def of(cls, filename: str, document: dict) -> "DocumentAttachment":
        convert_to = document.get("convertTo") or DocumentFormat.PDF
        return cls(filename, CONTENT_TYPES.get(convert_to, "application/octet-stream"), b"",
                   template_id=document.get("templateId", ""), data=document.get("data"), convert_to=convert_to)  # fmt: skip


def attachment_problems(attachment: Attachment) -> list[str]:
    """What is wrong with a document attachment (nothing for a plain one), each naming its filename."""
    if not isinstance(attachment, DocumentAttachment):
        return []
    name, problems = attachment.filename, []
    if not isinstance(attachment.template_id, str) or not TEMPLATE_ID.fullmatch(attachment.template_id):
        problems.append(f"{name!r}: document.templateId must be a Carbone template id (letters, digits, '.', '_', ':' or '-').")
    if attachment.convert_to not in DocumentFormat.values:
        problems.append(f"{name!r}: document.convertTo must be one of {', '.join(DocumentFormat.values)}.")
    if not isinstance(attachment.data, dict):
        problems.append(f"{name!r}: document.data must be a JSON object.")
    elif len(json.dumps(attachment.data, separators=(",", ":")).encode()) > DATA_MAX_BYTES:
        problems.append(f"{name!r}: document.data must be at most {DATA_MAX_BYTES // 1024} KiB of JSON.")
    return problems


def payload_of(attachment: DocumentAttachment) -> dict:
    """How the outbox keeps a document attachment until it is rendered (then `documentId` joins it)."""
    document = {"templateId": attachment.template_id, "data": attachment.data, "convertTo": attachment.convert_to}
    return {"filename": attachment.filename, "document": document}


def is_document(item: dict) -> bool:
    return "document" in item


def attachment_from_payload(item: dict) -> Attachment:
    """The attachment a rendered document's payload names: its stored bytes, with its format's Content-Type."""
    document = Document.objects.get(pk=item["documentId"])
    return Attachment(item["filename"], document.content_type, read_document(document))


@dataclass
class RenderOutcome:
    payload: dict  # the outbox payload, with every rendered document's id
    failure: str = ""  # "Document letter.pdf: <reason>" when one could not be rendered: the email fails, unsent


def render_attachments(workspace_id: str, email_id: str, source: str, payload: dict, save_payload) -> RenderOutcome:
    """Render the email's documents that have no `documentId` yet, in order; each one's row and `save_payload(new
    payload)` (the caller's write of the outbox) commit together, so a rendered document is never rendered twice.

    The first failure stops: its failed row names the email, and the outcome says why (the provider must not be called).
    """
    items = payload.get("attachments", [])
    pending = [index for index, item in enumerate(items) if is_document(item) and not item.get("documentId")]
    if not pending:
        return RenderOutcome(payload)
    workspace = Workspace.objects.get(pk=workspace_id)
    source = source if source in DocumentSource.values else DocumentSource.WORKFLOW_EMAIL
    for index in pending:
        item = items[index]
        spec = item["document"]
        request = RenderRequest(spec["templateId"], spec["data"], spec.get("convertTo") or DocumentFormat.PDF, item["filename"], source)
        try:
            with transaction.atomic():
                document = render_document(workspace, request, email_id=email_id)
                items = [*items[:index], {**item, "documentId": document.pk}, *items[index + 1 :]]
                payload = {**payload, "attachments": items}
                save_payload(payload)
        except DocumentFailed as failure:
            _keep_failed_row(failure.document)
            return RenderOutcome(payload, f"Document {item['filename']}: {failure.detail}")
        except ApplicationError as error:  # no engine, its key unreadable: nothing rendered, nothing to log
            return RenderOutcome(payload, f"Document {item['filename']}: {error.detail}")
        except ValidationError as error:
            return RenderOutcome(payload, f"Document {item['filename']}: {' '.join(error.messages)}")
    return RenderOutcome(payload)


def _keep_failed_row(document: Document) -> None:
    # Its insert (and its event) was rolled back with the transaction the failure left: the Document Log keeps
    # every render, and its subscribers hear of it.
    if not Document.objects.filter(pk=document.pk).exists():
        save_with_event(document)


def documents_of(workspace_id, email_id: str) -> list[Document]:
    """The documents rendered for an email (generated or failed), oldest first."""
    return list(Document.objects.filter(workspace_id=workspace_id, email_id=email_id).order_by("generated_at", "id"))

