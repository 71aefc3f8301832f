"""`document.generated` and `document.failed` (SPEC §15): recorded with the document's row, in its transaction,
with the row as the Document Log shows it (and its `tableId`); a render whose transaction rolls back leaves no
event; a failed attachment render keeps its failed row and its event."""

import pytest
from django.db import transaction

from documents.attachments import render_attachments
from documents.models import Document
from documents.rendering import RenderRequest, render_document
from documents.tests.conftest import PDF, carbone_render
from workspaces.models import WorkspaceEvent

pytestmark = pytest.mark.django_db

BODY = {"templateId": "tpl-letter", "data": {"client": {"name": "Ada"}}, "convertTo": "pdf", "filename": "letter.pdf"}


class Boom(Exception):
    pass


def test_a_rendered_document_records_document_generated_with_its_row(member_api, engine, mock):
    carbone_render(mock)
    row = member_api.post("/api/documents", BODY, format="json").json()
    (event,) = WorkspaceEvent.objects.all()
    assert (event.workspace_id, event.type) == (engine.workspace_id, "document.generated")
    assert event.data == {"id": row["id"], "createdAt": row["createdAt"], "tableId": row["tableId"], "values": row["values"]}
    values = event.data["values"]
    assert (values["Template ID"], values["Format"], values["Filename"], values["Size"], values["Status"], values["Error"],
            values["Email ID"]) == ("tpl-letter", "pdf", "letter.pdf", len(PDF), "generated", "", "")  # fmt: skip


def test_a_refused_render_records_document_failed_with_the_reason(member_api, engine, mock):
    carbone_render(mock, status=404, json={"success": False, "error": "Template not found"})
    response = member_api.post("/api/documents", BODY, format="json")
    assert response.status_code == 422
    (event,) = WorkspaceEvent.objects.all()
    assert event.type == "document.failed"
    assert event.data["id"] == response.json()["row"]["id"]
    assert event.data["values"]["Status"] == "failed" and "Template not found" in event.data["values"]["Error"]


def test_a_render_whose_transaction_rolls_back_leaves_no_event(engine, workspace, mock):
    carbone_render(mock)
    with pytest.raises(Boom), transaction.atomic():
        render_document(workspace, RenderRequest("tpl-letter", {}, filename="letter.pdf"))
        assert WorkspaceEvent.objects.filter(type="document.generated").count() == 1  # written with the row
        raise Boom
    assert not Document.objects.exists()
    assert not WorkspaceEvent.objects.exists()


def test_an_attachment_whose_outbox_write_fails_leaves_neither_document_nor_event(engine, workspace, mock):
    carbone_render(mock)
    payload = {"attachments": [{"filename": "letter.pdf", "document": {"templateId": "tpl-letter", "data": {}, "convertTo": "pdf"}}]}

    def save_payload(new_payload):
        raise Boom

    with pytest.raises(Boom):
        render_attachments(workspace.pk, "cemail0000000000000000001", "Workflow Email", payload, save_payload)
    assert not Document.objects.exists()
    assert not WorkspaceEvent.objects.exists()


def test_an_attachment_rendered_records_its_event_naming_the_email(engine, workspace, mock):
    carbone_render(mock)
    payload = {"attachments": [{"filename": "letter.pdf", "document": {"templateId": "tpl-letter", "data": {}, "convertTo": "pdf"}}]}
    saved = []
    outcome = render_attachments(workspace.pk, "cemail0000000000000000001", "Workflow Email", payload, saved.append)
    assert outcome.failure == ""
    (event,) = WorkspaceEvent.objects.all()
    assert event.type == "document.generated"
    assert event.data["id"] == saved[0]["attachments"][0]["documentId"]
    assert event.data["values"]["Email ID"] == "cemail0000000000000000001"


def test_a_failed_attachment_render_keeps_its_row_and_its_document_failed_event(engine, workspace, mock):
    carbone_render(mock, status=400, json={"success": False, "error": "Error while rendering template"})
    payload = {"attachments": [{"filename": "letter.pdf", "document": {"templateId": "tpl-letter", "data": {}, "convertTo": "pdf"}}]}
    outcome = render_attachments(workspace.pk, "cemail0000000000000000001", "Workflow Email", payload, lambda new: None)
    assert outcome.failure.startswith("Document letter.pdf:")
    document = Document.objects.get()
    (event,) = WorkspaceEvent.objects.all()
    assert (event.type, event.data["id"], event.data["values"]["Email ID"]) == ("document.failed", document.pk, "cemail0000000000000000001")
