"""POST /api/documents, GET /api/documents/:id and its file: bytes stored as Carbone sent them, served with the
right headers to the workspace only; refusals leave a failed row and store nothing."""

import json

import pytest
import requests
import responses

from documents.models import Document, DocumentStatus
from documents.tests.conftest import CARBONE, CARBONE_KEY, PDF, carbone_render, carbone_render_breaking

BODY = {"templateId": "tpl-letter", "data": {"client": {"name": "Ada"}}, "convertTo": "pdf", "filename": "letter.pdf"}


def stored_files(folder):
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_render_stores_carbones_bytes(member_api, engine, mock, document_folder):
    carbone_render(mock)
    response = member_api.post("/api/documents", BODY, format="json")
    assert response.status_code == 201, response.content
    row = response.json()
    assert response["Location"] == f"/api/documents/{row['id']}"
    assert row["values"]["Status"] == "generated"
    assert row["values"]["Size"] == len(PDF)
    assert row["values"]["Filename"] == "letter.pdf"
    assert row["values"]["Source"] == "Workflow Email"
    assert row["downloadUrl"].endswith(f"/api/documents/{row['id']}/file")
    call = mock.calls[0].request
    assert call.url == f"{CARBONE}/render/tpl-letter?download=true"
    assert json.loads(call.body) == {"data": {"client": {"name": "Ada"}}, "convertTo": "pdf"}
    assert call.headers["carbone-version"] == "5"
    [path] = stored_files(document_folder)
    assert path.read_bytes() == PDF


def test_download_has_content_type_and_disposition(member_api, engine, mock):
    carbone_render(mock)
    document_id = member_api.post("/api/documents", BODY, format="json").json()["id"]
    response = member_api.get(f"/api/documents/{document_id}/file", HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="letter.pdf"'
    assert response.streaming
    assert b"".join(response.streaming_content) == PDF


def test_detail_has_the_row_and_download_url(member_api, engine, mock):
    carbone_render(mock)
    created = member_api.post("/api/documents", BODY, format="json").json()
    detail = member_api.get(f"/api/documents/{created['id']}").json()
    assert detail == created


@pytest.mark.parametrize("convert_to, content_type", [("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                                                      ("html", "text/html")])  # fmt: skip
def test_each_format_has_its_content_type_and_extension(member_api, engine, mock, convert_to, content_type):
    carbone_render(mock, body=b"<p>hello</p>", content_type=content_type)
    created = member_api.post("/api/documents", {**BODY, "convertTo": convert_to, "filename": "Letter"}, format="json").json()
    response = member_api.get(f"/api/documents/{created['id']}/file")
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="Letter.{convert_to}"'


def test_unknown_template_is_422_with_a_failed_row(member_api, engine, mock, document_folder):
    carbone_render(mock, status=404, json={"success": False, "error": "Template not found"})
    response = member_api.post("/api/documents", BODY, format="json")
    assert response.status_code == 422
    assert "Template not found" in response.json()["detail"]
    row = response.json()["row"]
    assert row["values"]["Status"] == "failed"
    assert "Template not found" in row["values"]["Error"]
    assert row["downloadUrl"] is None
    assert Document.objects.get(pk=row["id"]).status == DocumentStatus.FAILED
    assert stored_files(document_folder) == []


def test_bad_data_is_422(member_api, engine, mock):
    carbone_render(mock, status=400, json={"success": False, "error": "Error while rendering template Error: formatter does not exist"})
    response = member_api.post("/api/documents", BODY, format="json")
    assert response.status_code == 422
    assert "formatter does not exist" in response.json()["detail"]


def test_a_too_large_document_fails_and_nothing_is_stored(member_api, engine, mock, settings, document_folder):
    settings.DOCUMENT_MAX_BYTES = 1000
    carbone_render(mock, body=b"x" * 1001)
    response = member_api.post("/api/documents", BODY, format="json")
    assert response.status_code == 422
    assert "DOCUMENT_MAX_BYTES" in response.json()["detail"]
    assert response.json()["row"]["values"]["Status"] == "failed"
    assert response.json()["row"]["values"]["Size"] == 0
    assert stored_files(document_folder) == []
    assert member_api.get(f"/api/documents/{response.json()['row']['id']}/file").status_code == 404


def test_a_document_at_the_limit_is_stored(member_api, engine, mock, settings):
    settings.DOCUMENT_MAX_BYTES = 1000
    carbone_render(mock, body=b"x" * 1000)
    assert member_api.post("/api/documents", BODY, format="json").status_code == 201


def test_a_refused_key_is_502_with_a_failed_row(member_api, engine, mock):
    carbone_render(mock, status=401, json={"success": False, "error": f"Unauthorized ({CARBONE_KEY})"})
    response = member_api.post("/api/documents", BODY, format="json")
    assert response.status_code == 502
    assert response.json()["row"]["values"]["Status"] == "failed"
    assert CARBONE_KEY not in response.content.decode()


def test_no_answer_is_504(member_api, engine, mock):
    mock.add(responses.POST, f"{CARBONE}/render/tpl-letter", body=requests.ReadTimeout("read timed out"))
    response = member_api.post("/api/documents", BODY, format="json")
    assert response.status_code == 504
    assert response.json()["row"]["values"]["Status"] == "failed"


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [(TimeoutError("timed out"), 504, "stopped sending"), (ConnectionResetError("reset by peer"), 502, "broke off")],
    ids=["stalls", "hangs up"],
)
def test_a_file_cut_off_mid_body_is_a_failed_row_and_nothing_is_stored(
    member_api, engine, mock, document_folder, error, status, message
):
    carbone_render_breaking(mock, error)

    response = member_api.post("/api/documents", BODY, format="json")

    assert response.status_code == status, response.content
    assert message in response.json()["detail"]
    assert response.json()["row"]["values"]["Status"] == "failed"
    assert Document.objects.get().status == DocumentStatus.FAILED
    assert stored_files(document_folder) == []


def test_no_engine_is_409_and_writes_nothing(member_api):
    assert member_api.post("/api/documents", BODY, format="json").status_code == 409
    assert Document.objects.count() == 0


def test_other_workspace_gets_404(member_api, other_admin_api, engine, mock):
    carbone_render(mock)
    document_id = member_api.post("/api/documents", BODY, format="json").json()["id"]
    assert other_admin_api.get(f"/api/documents/{document_id}").status_code == 404
    assert other_admin_api.get(f"/api/documents/{document_id}/file").status_code == 404


def test_another_workspaces_engine_cannot_be_named(other_admin_api, engine):
    response = other_admin_api.post("/api/documents", {**BODY, "integrationId": engine.pk}, format="json")
    assert response.status_code == 400
    assert "integrationId" in response.json()


@pytest.mark.parametrize("body, field", [
    ({"data": {}}, "templateId"),
    ({"templateId": "tpl-letter"}, "data"),
    ({"templateId": "tpl-letter", "data": [1]}, "data"),
    ({"templateId": "../etc/passwd", "data": {}}, "templateId"),
    ({"templateId": "tpl-letter", "data": {}, "convertTo": "exe"}, "convertTo"),
    ({"templateId": "tpl-letter", "data": {}, "source": "Somewhere"}, "source"),
    ({"templateId": "tpl-letter", "data": {"big": "x" * (1024 * 1024)}}, "data"),
    ({"templateId": "tpl-letter", "data": {}, "extra": 1}, "extra"),
])  # fmt: skip
def test_bad_input_is_400_and_writes_nothing(member_api, engine, body, field):
    response = member_api.post("/api/documents", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Document.objects.count() == 0


def test_anonymous_is_401(anon_api):
    assert anon_api.post("/api/documents", BODY, format="json").status_code == 401
    assert anon_api.get("/api/documents/cabc/file").status_code == 401
