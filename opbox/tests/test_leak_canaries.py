"""Planted secrets (a provider key, an API token) must never come back out: not in responses, pages,
admin HTML, CSV, log rows, error texts, log output at DEBUG, settings reports, or the database in clear."""

import json
import logging

import pytest
import responses
from django.db import connection
from django.test import Client
from django.views.debug import SafeExceptionReporterFilter

from email_logs.models import EmailLogEntry
from tables.models import Table
from workspaces.models import Role, User
from workspaces.services import add_member, create_token

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDER_KEY = "re_CANARY_leak_7d1c9e4b2a6f"
ROTATED_KEY = "re_CANARY_rotated_83f0a2c4e6"
HOOK_SECRET = "whsec_CANARY_hook_5b7d9f1e3c"
# A Resend webhook signing secret: `whsec_` then base64 (of "CANARY-webhook-signing-secret-42").
SIGNING_SECRET = "whsec_Q0FOQVJZLXdlYmhvb2stc2lnbmluZy1zZWNyZXQtNDI="
# The other services' credentials, checked (stored and before saving) against services that echo them back.
SERVICE_SECRETS = {
    "CARBONE": "carbone_CANARY_leak_3c4d5e6f", "SLACK": "xoxb-CANARY-leak-1a2b3c4d", "AIRTABLE": "patCANARYleak.7a8b9c0d",
    "HUBSPOT": "pat-na1-CANARY-leak-5e6f7a8b", "DRIVE_ACCESS": "ya29.CANARY-leak-access-9c0d", "DRIVE_REFRESH": "1//CANARY-leak-refresh-1e2f",
    "UNSAVED": "pat-na1-CANARY-unsaved-3a4b5c",
}  # fmt: skip


def _everything_a_user_can_see(workspace, admin_api, provider):
    """Drive every surface with the canaries planted; return the text of everything that came back."""
    seen = []

    def keep(response):
        seen.append(response.content.decode() if not getattr(response, "streaming", False) else b"".join(response.streaming_content).decode())
        return response

    # The provider echoes the key back in its errors, as real ones sometimes do.
    provider.add(responses.GET, "https://provider-a.test/templates", status=401, json={"message": f"bad key {PROVIDER_KEY}"})
    provider.add(responses.POST, "https://provider-a.test/emails", status=422, json={"message": f"key {PROVIDER_KEY} cannot send"})
    created = keep(admin_api.post("/api/integrations", {
        "name": "Canary Email", "type": "EMAIL_PROVIDER", "config": {"fromEmail": "noreply@acme.example"},
        "credentials": {"apiKey": PROVIDER_KEY}, "setAsSiteEmailProvider": True,
    }, format="json")).json()  # fmt: skip
    hook = keep(admin_api.post("/api/integrations", {"name": "Hook", "type": "WEBHOOK", "credentials": {"secret": HOOK_SECRET}}, format="json")).json()
    keep(admin_api.post("/api/integrations", {"name": "x", "type": "WEBHOOK", "credentials": {"secret": HOOK_SECRET, "nope": HOOK_SECRET}}, format="json"))
    keep(admin_api.patch(f"/api/integrations/{hook['id']}", {"credentials": {"secret": "y" * 3000}}, format="json"))
    for path in ("/api/integrations", f"/api/integrations/{created['id']}", "/api/integrations/stats", f"/api/integrations/{created['id']}/audit"):
        keep(admin_api.get(path))
    keep(admin_api.get("/api/integrations/email-provider-a/templates"))
    _webhook_traffic(admin_api, created["id"], keep)
    _check_traffic(admin_api, provider, keep)
    keep(admin_api.post("/api/emails", {"to": "a@example.com", "subject": "Hello", "text": "x"}, format="json"))
    keep(admin_api.patch(f"/api/integrations/{created['id']}", {"credentials": {"apiKey": ROTATED_KEY}}, format="json"))
    table = Table.objects.get(integration_id=created["id"])
    for path in ("/api/tables", f"/api/tables/{table.id}", f"/api/tables/{table.id}/rows", f"/api/tables/{table.id}/rows.csv"):
        keep(admin_api.get(path))

    staff = User.objects.create_superuser(email="staff@opbox.example", password="pw")
    browser = Client()
    browser.force_login(staff)
    entry = EmailLogEntry.objects.get()
    for path in (
        "/admin/integrations/integration/", f"/admin/integrations/integration/{created['id']}/change/",
        "/admin/integrations/integration/add/", "/admin/integrations/integration/add/?type=EMAIL_PROVIDER",
        "/admin/integrations/integrationauditevent/",
        "/admin/email_logs/emaillogentry/", f"/admin/email_logs/emaillogentry/{entry.pk}/change/",
        "/admin/tables/table/", "/admin/workspaces/apitoken/",
    ):  # fmt: skip
        assert keep(browser.get(path)).status_code == 200, path
    # An admin form that fails validation must not echo the secret it was given.
    refused = keep(browser.post("/admin/integrations/integration/add/?type=EMAIL_PROVIDER", {
        "workspace": workspace.pk, "name": "", "config_fromEmail": "noreply@acme.example", "enabled": "on",
        "credential_apiKey": PROVIDER_KEY,
    }))  # fmt: skip
    assert refused.status_code == 200 and "errornote" in refused.content.decode()
    return "\n".join(seen)


def _webhook_traffic(admin_api, integration_id, keep):
    """The signing secret stored, then webhooks signed with it, with another secret, and signed but unreadable."""
    from email_logs.tests.signing import OTHER_RESEND_SECRET, resend_event, resend_headers

    keep(admin_api.patch(f"/api/integrations/{integration_id}", {"credentials": {"webhookSigningSecret": SIGNING_SECRET}}, format="json"))
    keep(admin_api.get(f"/api/integrations/{integration_id}"))
    path = f"/api/webhooks/email-provider-a/{integration_id}"
    body = resend_event("email.bounced", "re-unknown", bounce={"message": "550 gone", "type": "Permanent"})
    for signed_body, secret, status in ((body, SIGNING_SECRET, 200), (body, OTHER_RESEND_SECRET, 401), (b"{not json", SIGNING_SECRET, 400)):
        response = keep(admin_api.post(path, signed_body, content_type="application/json", **resend_headers(secret, signed_body)))
        assert response.status_code == status


def _check_traffic(admin_api, provider, keep):
    """Every other type's check, stored and before saving, against services that echo the credential in their errors."""
    from django.test import Client as BrowserClient

    s = SERVICE_SECRETS
    provider.add(responses.GET, "https://carbone.acme.example/templates", status=401, json={"success": False, "error": f"bad key {s['CARBONE']}"})
    provider.add(responses.POST, "https://slack.test/api/auth.test", json={"ok": False, "error": "invalid_auth", "warning": s["SLACK"]})
    provider.add(responses.GET, "https://api.airtable.com/v0/meta/bases/appLEAK/tables", status=401,
                 json={"error": {"type": "AUTHENTICATION_REQUIRED", "message": f"token {s['AIRTABLE']} refused"}})
    def hubspot_echo(request):  # echoes the token it was sent, as some services do
        token = request.headers["Authorization"].removeprefix("Bearer ")
        return 401, {}, json.dumps({"status": "error", "message": f"token {token} refused", "category": "INVALID_AUTHENTICATION"})

    provider.add_callback(responses.GET, "https://hubspot.test/account-info/v3/details", callback=hubspot_echo)
    provider.add(responses.GET, "https://drive.test/drive/v3/files/1Leak", status=401,
                 json={"error": {"code": 401, "message": f"token {s['DRIVE_ACCESS']} invalid", "errors": [{"reason": "authError"}]}})
    provider.add(responses.POST, "https://oauth.test/token", status=400,
                 json={"error": "invalid_grant", "error_description": f"{s['DRIVE_REFRESH']} revoked; client test-client-secret-CANARY"})
    failed_engine = None
    made = [
        {"name": "Docs", "type": "DOCUMENT_ENGINE", "config": {"baseUrl": "https://carbone.acme.example"}, "credentials": {"apiKey": s["CARBONE"]}},
        {"name": "Slack", "type": "SLACK", "config": {"channel": "C1"}, "credentials": {"botToken": s["SLACK"]}},
        {"name": "Base", "type": "EXTERNAL_DATABASE", "config": {"baseId": "appLEAK"}, "credentials": {"apiToken": s["AIRTABLE"]}},
        {"name": "CRM", "type": "CRM_PLATFORM", "config": {"portalId": "1"}, "credentials": {"accessToken": s["HUBSPOT"]}},
        {"name": "Drive", "type": "CLOUD_STORAGE", "config": {"rootFolderId": "1Leak"},
         "credentials": {"accessToken": s["DRIVE_ACCESS"], "refreshToken": s["DRIVE_REFRESH"]}},
    ]
    for body in made:
        integration = keep(admin_api.post("/api/integrations", body, format="json")).json()
        failed_engine = failed_engine if body["type"] != "DOCUMENT_ENGINE" else integration["id"]
        keep(admin_api.post(f"/api/integrations/{integration['id']}/check"))
        keep(admin_api.get(f"/api/integrations/{integration['id']}"))
    # Documents: the templates list and a render refused by a Carbone that echoes the key, the failed row's
    # API answer, its Document Log (rows, CSV), its page and the "Render a test document" page.
    provider.add(responses.POST, "https://carbone.acme.example/render/tpl-leak", status=401, json={"success": False, "error": f"bad key {s['CARBONE']}"})
    keep(admin_api.get("/api/integrations/document-engine/templates"))
    failed = keep(admin_api.post("/api/documents", {"templateId": "tpl-leak", "data": {}}, format="json")).json()["row"]
    assert "[redacted]" in failed["values"]["Error"]  # the echo was scrubbed, not dropped
    keep(admin_api.get(f"/api/documents/{failed['id']}"))
    for path in (f"/api/tables/{failed['tableId']}/rows", f"/api/tables/{failed['tableId']}/rows.csv"):
        keep(admin_api.get(path))
    crm = made[3] | {"credentials": {"accessToken": s["UNSAVED"]}}
    keep(admin_api.post("/api/integrations/check", crm, format="json"))
    from workspaces.models import User

    browser = BrowserClient()
    browser.force_login(User.objects.get(email__startswith="admin"))
    keep(browser.get("/settings/integrations/"))
    keep(browser.get(f"/tables/{failed['tableId']}/documents/{failed['id']}/"))
    keep(browser.get(f"/tables/{failed['tableId']}/"))
    keep(browser.get(f"/settings/integrations/{failed_engine}/test-document/"))
    keep(browser.post("/settings/integrations/new/test/?type=CRM_PLATFORM", {
        "name": "CRM", "enabled": "on", "config_portalId": "1", "credential_accessToken": s["UNSAVED"]}))  # fmt: skip


def _database_dump() -> str:
    """Every row of every table, as text."""
    lines = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            lines += [repr(row) for row in cursor.fetchall()]
    return "\n".join(lines)


def test_planted_secrets_never_come_back_out(workspace, admin_api, caplog):
    caplog.set_level(logging.DEBUG)
    add_member(workspace, "canary@acme.example", Role.MEMBER)
    api_token = create_token(workspace, "canary@acme.example")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as provider:
        seen = _everything_a_user_can_see(workspace, admin_api, provider)
    row = EmailLogEntry.objects.get()
    logged = "\n".join(record.getMessage() + str(record.args) + str(record.exc_text) for record in caplog.records)
    dump = _database_dump()
    settings_report = json.dumps(SafeExceptionReporterFilter().get_safe_settings(), default=str)

    places = {
        "API responses, pages and admin HTML, CSV": seen,
        "Email Log row (error text)": row.error,
        "log records at DEBUG": logged,
        "database in clear": dump,
        "error-report settings": settings_report,
    }
    for secret in (PROVIDER_KEY, ROTATED_KEY, HOOK_SECRET, SIGNING_SECRET, api_token, *SERVICE_SECRETS.values(), "test-client-secret-CANARY"):
        for place, text in places.items():
            assert secret not in text, f"a planted secret leaked into: {place}"
    assert row.status == "failed" and "[redacted]" in row.error  # the provider's echo was scrubbed, not dropped
    assert caplog.records, "the log capture saw nothing: the test would prove nothing"
