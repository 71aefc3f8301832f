"""GET /api/integrations/document-engine/templates: every page of Carbone's list, 409/502/504 as §14 says."""

import requests
import responses

from documents.tests.conftest import CARBONE, CARBONE_KEY, carbone_page, template


def test_every_page_is_read(member_api, engine, mock):
    carbone_page(mock, [template(1), template(2)], has_more=True, next_cursor="cur-2")
    carbone_page(mock, [template(3)], has_more=True, next_cursor="cur-3", cursor="cur-2")
    carbone_page(mock, [template(4)], cursor="cur-3")
    response = member_api.get("/api/integrations/document-engine/templates")
    assert response.status_code == 200
    assert [t["id"] for t in response.json()["templates"]] == ["tpl-1", "tpl-2", "tpl-3", "tpl-4"]
    assert response.json()["templates"][0] == {"id": "tpl-1", "name": "Template 1", "created_at": "2026-01-09T09:00:01.000Z"}
    assert all(call.request.headers["carbone-version"] == "5" for call in mock.calls)
    assert all(call.request.headers["Authorization"] == f"Bearer {CARBONE_KEY}" for call in mock.calls)


def test_no_engine_is_409(member_api, make_integration):
    make_integration("EMAIL_PROVIDER")
    response = member_api.get("/api/integrations/document-engine/templates")
    assert response.status_code == 409
    assert "DOCUMENT_ENGINE" in response.json()["detail"]


def test_a_disabled_engine_is_not_used(member_api, engine, mock):
    engine.enabled = False
    engine.save()
    assert member_api.get("/api/integrations/document-engine/templates").status_code == 409


def test_a_refused_key_is_502_without_the_key(member_api, engine, mock):
    mock.add(responses.GET, f"{CARBONE}/templates", status=401,
             json={"success": False, "error": f"Unauthorized, please provide a valid API key ({CARBONE_KEY})"})  # fmt: skip
    response = member_api.get("/api/integrations/document-engine/templates")
    assert response.status_code == 502
    assert "rejected" in response.json()["detail"]
    assert CARBONE_KEY not in response.content.decode()


def test_a_timeout_is_504(member_api, engine, mock):
    mock.add(responses.GET, f"{CARBONE}/templates", body=requests.ReadTimeout("read timed out"))
    response = member_api.get("/api/integrations/document-engine/templates")
    assert response.status_code == 504


def test_another_workspace_engine_is_not_used(other_admin_api, engine):
    assert other_admin_api.get("/api/integrations/document-engine/templates").status_code == 409
