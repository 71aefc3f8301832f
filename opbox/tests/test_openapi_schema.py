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
        "/api/webhooks/email-provider-a/{integration_id}", "/api/webhooks/email-provider-b/{integration_id}",
        "/api/emails/{email_id}", "/api/suppressions", "/api/suppressions/{address}", "/api/emails/batch",
        "/api/workspace", "/api/privacy/erase", "/api/integrations/{integration_id}/check", "/api/integrations/check",
        "/api/integrations/document-engine/templates", "/api/documents", "/api/documents/{document_id}",
        "/api/documents/{document_id}/file",
        "/api/deliveries/{delivery_id}/redeliver",
    }  # fmt: skip


def test_error_answers_are_documented(schema):
    send = schema["paths"]["/api/emails"]["post"]["responses"]
    templates = schema["paths"]["/api/integrations/email-provider-a/templates"]["get"]["responses"]
    detail = schema["paths"]["/api/integrations/{integration_id}"]["patch"]["responses"]

    assert {"201", "202", "400", "401", "403", "409", "413", "429", "502"} <= set(send)
    assert {"200", "401", "403", "409", "502", "504"} <= set(templates)
    assert {"200", "400", "401", "403", "404", "413"} <= set(detail)
    check = schema["paths"]["/api/integrations/{integration_id}/check"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "502", "503", "504"} <= set(check)
    unsaved = schema["paths"]["/api/integrations/check"]["post"]["responses"]
    assert {"200", "400", "401", "403", "409", "502", "503", "504"} <= set(unsaved)
    redeliver = schema["paths"]["/api/deliveries/{delivery_id}/redeliver"]["post"]["responses"]
    assert {"202", "401", "403", "404", "409"} <= set(redeliver)


def test_the_webhook_receivers_are_documented_as_signed_not_token_authenticated(schema):
    for provider in ("a", "b"):
        receiver = schema["paths"][f"/api/webhooks/email-provider-{provider}/{{integration_id}}"]["post"]
        assert {"200", "400", "401", "413"} <= set(receiver["responses"])
        assert receiver.get("security", [{}]) == [{}]


def test_the_email_view_and_suppressions_document_their_answers(schema):
    paths = schema["paths"]
    send = paths["/api/emails"]["post"]["responses"]

    assert {"201", "202", "422"} <= set(send) and "Location" in send["202"]["headers"]
    assert {"200", "401", "404"} <= set(paths["/api/emails/{email_id}"]["get"]["responses"])
    assert {"cursor", "pageSize", "q"} <= {p["name"] for p in paths["/api/suppressions"]["get"]["parameters"]}
    assert {"200", "201", "400", "403"} <= set(paths["/api/suppressions"]["post"]["responses"])
    assert {"204", "403", "404"} <= set(paths["/api/suppressions/{address}"]["delete"]["responses"])


def test_the_docs_page_serves_its_assets_locally(client):
    html = client.get("/api/docs/").content.decode()

    assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html
