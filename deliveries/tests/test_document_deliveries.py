"""CLOUD_STORAGE deliveries of `document.generated` (SPEC §15), end to end: a document rendered by the workspace's
engine is uploaded into the Drive folder with exactly its stored bytes and `appProperties.opboxDocumentId`; a
worker that died after Drive stored the upload leaves a delivery whose next attempt finds that upload (files.list
on the appProperty) and uploads nothing again. Carbone and Drive are mocked in their documented shapes."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import transaction
from django.utils import timezone

from deliveries import tasks
from deliveries.models import Delivery
from documents.models import Document
from documents.rendering import DocumentFailed, RenderRequest, read_document, render_document
from documents.tests.conftest import CARBONE, CARBONE_KEY, PDF, carbone_render
from integrations.services import create_integration
from integrations.tests import services as svc
from workspaces.models import WorkspaceEvent

pytestmark = pytest.mark.django_db

UPLOAD = f"{svc.DRIVE}/upload/drive/v3/files"
FILES = f"{svc.DRIVE}/drive/v3/files"


class WorkerDied(BaseException):
    """The worker's process ending mid-call (SIGKILL): nothing after it runs, no handler catches it."""


@pytest.fixture(autouse=True)
def document_folder(tmp_path, settings):
    documents = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path / "documents")}}
    settings.STORAGES = {**settings.STORAGES, "documents": documents}


@pytest.fixture
def engine(workspace):
    return create_integration(workspace, name="Carbone", type="DOCUMENT_ENGINE", config={"baseUrl": CARBONE},
                              credentials={"apiKey": CARBONE_KEY})  # fmt: skip


@pytest.fixture
def render(workspace, engine, django_capture_on_commit_callbacks):
    """Render a letter in a transaction that commits (its fan-out and first attempt run after the commit)."""

    def run():
        with django_capture_on_commit_callbacks(execute=True):
            with transaction.atomic():
                return render_document(workspace, RenderRequest("tpl-letter", {"client": "Ada"}, filename="Engagement letter"))

    return run


def uploaded(call):
    """(metadata, bytes) of a multipart/related upload."""
    boundary = call.request.headers["Content-Type"].split("boundary=")[1].encode()
    _, metadata_part, content_part, _ = call.request.body.split(b"--" + boundary)
    metadata = json.loads(metadata_part.split(b"\r\n\r\n", 1)[1])
    return metadata, content_part.split(b"\r\n\r\n", 1)[1].removesuffix(b"\r\n")


def test_a_generated_document_is_uploaded_to_drive_with_its_stored_bytes_and_opbox_id(receiver, render, mock):
    carbone_render(mock)
    mock.add("POST", UPLOAD, json={"id": "1FileId", "name": "Engagement letter.pdf"})
    receiver("CLOUD_STORAGE")
    document = render()
    upload = mock.calls[-1]
    assert upload.request.url.split("?")[0] == UPLOAD
    assert parse_qs(urlsplit(upload.request.url).query) == {"uploadType": ["multipart"], "supportsAllDrives": ["true"], "fields": ["id"]}
    metadata, content = uploaded(upload)
    assert metadata == {"name": "Engagement letter.pdf", "parents": ["1AbcFolder"], "appProperties": {"opboxDocumentId": document.pk}}
    assert content == read_document(document) == PDF
    assert upload.request.headers["Authorization"] == f"Bearer {svc.KEYS['drive_access']}"
    delivery = Delivery.objects.get()
    assert (delivery.event_type, delivery.status, delivery.attempts, delivery.response) == ("document.generated", "delivered", 1, "200")


def test_a_failed_render_uploads_nothing(receiver, workspace, engine, mock, django_capture_on_commit_callbacks):
    carbone_render(mock, status=404, json={"success": False, "error": "Template not found"})
    receiver("CLOUD_STORAGE")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DocumentFailed, match="Template not found"):
        render_document(workspace, RenderRequest("tpl-letter", {}))  # the failed row commits by itself, as in the API
    assert WorkspaceEvent.objects.get().type == "document.failed"
    assert not Delivery.objects.exists()  # CLOUD_STORAGE's default events are document.generated alone
    assert [call.request.url.split("?")[0] for call in mock.calls] == [f"{CARBONE}/render/tpl-letter"]


def test_a_retry_after_a_worker_died_finds_the_earlier_upload_and_uploads_nothing_again(
    receiver, render, mock, django_capture_on_commit_callbacks
):
    carbone_render(mock)

    def stored_then_died(request):
        raise WorkerDied  # Drive stored the file; the worker was killed before it heard the answer

    mock.add_callback("POST", UPLOAD, callback=stored_then_died)
    mock.add("GET", FILES, json={"files": [{"id": "1FileId", "name": "Engagement letter.pdf"}]})
    receiver("CLOUD_STORAGE")
    render()  # the inline task runner records the task as failed; the attempt recorded nothing
    document = Document.objects.get()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1) and delivery.claim  # left claimed by the dead worker
    Delivery.objects.filter(pk=delivery.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))  # its lease ended
    with django_capture_on_commit_callbacks(execute=True):  # the sweep's attempt runs once its reset commits
        assert tasks.sweep_now()["deliveries"] == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.response) == ("delivered", 2, "found 1FileId")
    uploads = [call for call in mock.calls if call.request.url.startswith(UPLOAD)]
    assert len(uploads) == 1
    (lookup,) = [call for call in mock.calls if call.request.method == "GET"]
    query = parse_qs(urlsplit(lookup.request.url).query)["q"][0]
    assert query == f"appProperties has {{ key='opboxDocumentId' and value='{document.pk}' }} and trashed = false"


def test_a_document_purged_before_its_upload_fails_the_delivery_saying_its_file_is_not_stored(receiver, workspace, record, mock):
    receiver("CLOUD_STORAGE")
    record(workspace, "document.generated", {"id": "cdoc0000000000000000000001", "tableId": "ctable0000000000000000000",
                                             "createdAt": "2026-12-05T09:00:00Z", "values": {"Filename": "gone.pdf", "Email ID": "cemail0000000000000000001"}})  # fmt: skip
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert delivery.email_id == "cemail0000000000000000001"  # the Delivery Log row names the email it went with
    assert "not stored" in delivery.error
    assert not mock.calls


def test_a_slack_subscribed_to_document_failed_names_the_document_its_reason_and_page(receiver, workspace, mock,
                                                                                      engine, django_capture_on_commit_callbacks):  # fmt: skip
    carbone_render(mock, status=404, json={"success": False, "error": "Template not found"})
    mock.add("POST", f"{svc.SLACK}/chat.postMessage", json={"ok": True, "channel": "C0123ALERTS", "ts": "1733389200.000100"})
    receiver("SLACK", config={"events": "document.failed"})
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DocumentFailed):
        render_document(workspace, RenderRequest("tpl-letter", {}, filename="letter.pdf"))
    document = Document.objects.get()
    text = json.loads(mock.calls[-1].request.body)["text"]
    assert text.startswith("The document 'letter.pdf' failed: ") and "Template not found" in text
    assert text.endswith(f"https://opbox.test/tables/{document.table_id}/documents/{document.pk}/")
    assert Delivery.objects.get().email_id == ""
