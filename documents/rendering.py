"""Rendering documents through the workspace's document engine (Carbone), storing their bytes, logging each one.

A render reads Carbone's answer a chunk at a time into a spool (memory up to SPOOL_MEMORY_BYTES, then a temporary
file) and stops the moment it passes DOCUMENT_MAX_BYTES: a document is never held whole in memory, and one too
large is never stored. Every render, generated or failed, leaves one row in its integration's Document Log.
"""

import logging
import re
import tempfile
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.text import slugify

from integrations.crypto import EncryptionError
from integrations.exceptions import CredentialsUnreadable, EmailProviderNotConfigured
from integrations.models import Integration
from integrations.providers import connector_for
from integrations.providers.exceptions import ProviderError, ProviderRejected
from integrations.types import IntegrationType
from opbox.errors import ApplicationError
from opbox.ids import new_public_id
from tables.models import SystemType, Table

from .log_tables import ensure_document_log_table
from .models import Document, DocumentFormat, DocumentSource, DocumentStatus
from .outgoing_events import record_document_event

logger = logging.getLogger(__name__)

SPOOL_MEMORY_BYTES = 1024 * 1024  # a rendered file up to this size stays in memory on its way to storage
DATA_MAX_BYTES = 1024 * 1024  # the JSON `data` a template is rendered with
TEMPLATE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,254}")
_UNSAFE_IN_FILENAME = re.compile(r"[\x00-\x1f\x7f/\\\"]")


def document_storage():
    """Where documents' bytes are kept: `STORAGES["documents"]` (a folder under MEDIA_ROOT unless configured)."""
    return storages["documents"]


class DocumentEngineMissing(ApplicationError):
    """The integration named for a render is not an enabled DOCUMENT_ENGINE of the workspace: 409."""

    http_status = 409


class DocumentFailed(ApplicationError):
    """A render failed; its failed row is `document`. Carbone refusing the template or data is a 422 with
    Carbone's message, a refused key a 502, no answer a 504, a file over DOCUMENT_MAX_BYTES a 422."""

    def __init__(self, message: str, *, http_status: int, document: Document):
        super().__init__(message)
        self.http_status = http_status
        self.document = document


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class RenderRequest:
    """What to render: a template, its data, the format, and how to name and label the result."""

    template_id: str
    data: dict
    convert_to: str = DocumentFormat.PDF
    filename: str = ""
    source: str = DocumentSource.WORKFLOW_EMAIL

    @property
    def final_filename(self) -> str:
        return document_filename(self.filename, self.template_id, self.convert_to)


def document_filename(filename: str, template_id: str, convert_to: str) -> str:
    """The name a document is downloaded as: the one asked for (made safe), with the format's extension."""
    name = _UNSAFE_IN_FILENAME.sub("", (filename or "").strip())[:200].strip()
    if not name:
        name = slugify(template_id)[:100] or "document"
    return name if name.lower().endswith(f".{convert_to}") else f"{name}.{convert_to}"


def _with_log_id(integrations):
    """Integrations with `document_log_id`, the id of their Document Log (None when it was never made)."""
    logs = Table.objects.filter(integration=OuterRef("pk"), system_type=SystemType.DOCUMENT_LOG).values("pk")[:1]
    return integrations.annotate(document_log_id=Subquery(logs))


def document_engine(workspace, integration_id: str | None = None) -> Integration:
    """The DOCUMENT_ENGINE integration a render uses: the one named, else the most recently updated enabled one
    with an apiKey (none: 409)."""
    if not integration_id:
        # One query (the email types' `template_source` also weighs the site provider flag, which engines lack).
        usable = _with_log_id(Integration.objects.for_workspace(workspace)).filter(
            type=IntegrationType.DOCUMENT_ENGINE, enabled=True, credential_fingerprints__has_key="apiKey"
        )
        integration = usable.order_by("-updated_at", "-id").first()
        if integration is None:
            raise EmailProviderNotConfigured(
                "No enabled DOCUMENT_ENGINE integration with an apiKey: create one (POST /api/integrations with type "
                '"DOCUMENT_ENGINE", config.baseUrl and credentials.apiKey) or enable an existing one.'
            )
        return integration
    integration = _with_log_id(Integration.objects.for_workspace(workspace)).filter(pk=integration_id).first()
    if integration is None or integration.type != IntegrationType.DOCUMENT_ENGINE:
        raise ValidationError({"integrationId": ["No DOCUMENT_ENGINE integration with this id in this workspace."]})
    if not integration.enabled:
        raise DocumentEngineMissing(f"The document engine {integration.name!r} is disabled: enable it first.")
    return integration


def _engine_and_log(workspace, integration: Integration | None, integration_id: str | None) -> tuple[Integration, str]:
    """The engine a render uses and its Document Log's id: one query when the log exists (it nearly always does)."""
    integration = integration or document_engine(workspace, integration_id)
    log_id = getattr(integration, "document_log_id", None) or ensure_document_log_table(integration).pk
    return integration, log_id


def engine_client(integration: Integration):
    """The Carbone client of a DOCUMENT_ENGINE integration, on its stored values."""
    try:
        credentials = integration.credentials
    except EncryptionError as error:
        raise CredentialsUnreadable(str(error)) from None
    identity = {"id": integration.pk, "name": integration.name, "type": integration.type}
    return connector_for(integration.type).client(integration.config, credentials, identity=identity)


def list_document_templates(workspace) -> list:
    """Every template of the workspace's document engine (every page)."""
    return engine_client(document_engine(workspace)).list_templates()


def _spool(chunks, limit: int):
    """The chunks in a spooled file and their total size; `_TooLarge` the moment the total passes `limit`."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    size = 0
    try:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool, size


def _failure_status(error: ProviderError) -> int:
    # Carbone's 400/404 is about the template or the data the caller sent: theirs to fix.
    if isinstance(error, ProviderRejected) and error.status_code in (400, 404, 422):
        return 422
    return error.http_status


def _size_text(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB" if size >= 1024 * 1024 else f"{size:,} bytes"


def render_document(workspace, request: RenderRequest, *, integration: Integration | None = None,
                    integration_id: str | None = None, email_id: str = "") -> Document:  # fmt: skip
    """Render `request` through the workspace's document engine and store the bytes: the generated row.

    A failure leaves a failed row (nothing stored) and raises `DocumentFailed` carrying it.
    """
    integration, table_id = _engine_and_log(workspace, integration, integration_id)
    document = Document(
        id=new_public_id(), workspace=workspace, table_id=table_id, integration=integration, template_id=request.template_id,
        format=request.convert_to, filename=request.final_filename, source=request.source, email_id=email_id,
    )  # fmt: skip
    limit = settings.DOCUMENT_MAX_BYTES
    try:
        client = engine_client(integration)
        with client.render(request.template_id, request.data, request.convert_to) as chunks:
            spool, size = _spool(chunks, limit)
    except ProviderError as error:
        raise _failed(document, error.detail, _failure_status(error)) from None
    except _TooLarge:
        message = f"The rendered document is larger than DOCUMENT_MAX_BYTES ({_size_text(limit)}): it was not stored."
        raise _failed(document, message, 422) from None
    with spool:
        if size == 0:
            raise _failed(document, "Carbone answered an empty file.", 502)
        return _store(document, spool, size)


def _failed(document: Document, message: str, http_status: int) -> DocumentFailed:
    document.status, document.error, document.storage_name, document.size = DocumentStatus.FAILED, message, "", 0
    save_with_event(document)
    return DocumentFailed(message, http_status=http_status, document=document)


def _store(document: Document, spool, size: int) -> Document:
    storage = document_storage()
    name = storage.save(f"{document.workspace_id}/{document.pk}.{document.format}", File(spool, name=document.filename))
    document.status, document.size, document.storage_name = DocumentStatus.GENERATED, size, name
    try:
        save_with_event(document)
    except BaseException:
        storage.delete(name)  # no row, no file: the bytes never outlive a row that was not written
        raise
    return document


def save_with_event(document: Document) -> None:
    """Insert the document's row and its `document.generated` or `document.failed` event: they commit together."""
    with transaction.atomic():
        document.save(force_insert=True)
        record_document_event(document)


def open_document(document: Document):
    """The stored bytes of a generated document, as a file opened for reading."""
    return document_storage().open(document.storage_name, "rb")


@dataclass(frozen=True)
class StoredFile:
    """A generated document's stored file as a receiver uploads it (integrations' `DocumentFile`): the bytes are
    read from storage only when `read()` is called, so a delivery holds one document at a time, never a batch."""

    document: Document

    @property
    def filename(self) -> str:
        return self.document.filename

    @property
    def content_type(self) -> str:
        return self.document.content_type

    def read(self) -> bytes:
        return read_document(self.document)


def stored_files(documents: list[tuple[str, str]]) -> dict[str, StoredFile]:
    """The stored files of these (workspace id, document id) generated documents, by document id, in one query;
    a document with none (failed, or purged by retention since) is missing from the answer."""
    if not documents:
        return {}
    wanted = set(documents)
    found = Document.objects.filter(pk__in={pk for _, pk in wanted}, status=DocumentStatus.GENERATED).exclude(storage_name="")
    return {document.pk: StoredFile(document) for document in found if (document.workspace_id, document.pk) in wanted}


def read_document(document: Document) -> bytes:
    """The whole stored file (an email attachment is sent whole); its size is bounded by DOCUMENT_MAX_BYTES."""
    with open_document(document) as handle:
        return handle.read()
