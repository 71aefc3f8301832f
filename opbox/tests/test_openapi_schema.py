"""The OpenAPI schema generates with no warning, validates, and documents the answers the API gives."""

import pytest
import yaml
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


def test_every_api_path_is_documented_without_a_trailing_slash(schema):
    assert set(schema["paths"]) == {
        "/api/integrations", "/api/integrations/stats", "/api/integrations/{integration_id}",
        "/api/integrations/{integration_id}/audit", "/api/integrations/email-provider-a/templates",
        "/api/integrations/email-provider-b/templates", "/api/emails", "/api/tables/integration/init",
        "/api/tables", "/api/tables/{table_id}", "/api/tables/{table_id}/rows", "/api/tables/{table_id}/rows.csv",
    }  # fmt: skip


def test_error_answers_are_documented(schema):
    send = schema["paths"]["/api/emails"]["post"]["responses"]
    templates = schema["paths"]["/api/integrations/email-provider-a/templates"]["get"]["responses"]
    detail = schema["paths"]["/api/integrations/{integration_id}"]["patch"]["responses"]

    assert {"201", "202", "400", "401", "403", "409", "413", "429", "502"} <= set(send)
    assert {"200", "401", "403", "409", "502", "504"} <= set(templates)
    assert {"200", "400", "401", "403", "404", "413"} <= set(detail)


def test_the_docs_page_serves_its_assets_locally(client):
    html = client.get("/api/docs/").content.decode()

    assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html
