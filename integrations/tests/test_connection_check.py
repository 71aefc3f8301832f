"""POST /api/integrations/<id>/check for all nine types, against the services' documented shapes (services.py):
a good check, a refused credential, each resource failure of SPEC §13's table, and a timeout -> 504. The outcome
is recorded on the integration, with its sentence, and never holds a secret."""

import pytest
import requests
import responses
from standardwebhooks import Webhook

from integrations.models import Integration
from integrations.services import create_integration
from workspaces.models import WorkspaceEvent

from . import services as svc

pytestmark = pytest.mark.django_db

A = "https://provider-a.test"
B = "https://provider-b.test"
TEMPLATES = {"object": "list", "has_more": False, "data": [{"id": "tmpl_1", "name": "Welcome", "created_at": "2026-01-10 09:00:00.000+00"}]}


@pytest.fixture
def make(workspace):
    def build(type_name, config=None, credentials=None):
        default_config, default_credentials = svc.VALUES.get(type_name, ({}, {}))
        return create_integration(
            workspace, name=f"{type_name.title()} check", type=type_name,
            config=default_config if config is None else config,
            credentials=default_credentials if credentials is None else credentials,
        )  # fmt: skip

    return build


def check(api, integration, body=None):
    return api.post(f"/api/integrations/{integration.pk}/check", body, format="json")


def assert_no_secret(response, integration):
    text = response.content.decode() + Integration.objects.get(pk=integration.pk).last_check_detail
    for secret in svc.KEYS.values():
        assert secret not in text


# A good check: 200 with the sentence, recorded, in the detail response -------------------------------------------

GOOD_SENTENCES = {
    "DOCUMENT_ENGINE": "Carbone at https://carbone.acme.example accepts the API key and lists its templates (first: Engagement letter).",
    "WEBHOOK": "hooks.acme.example accepted a signed webhook.test event (HTTP 200).",
    "SLACK": "Posting as @opbox in #alerts.",
    "EXTERNAL_DATABASE": "Table 'Email Log' in base appCANARYbase01 is ready: emails will be upserted on its 'Email ID' field.",
    "WEBHOOK_PLATFORM": "hooks.zapier.com accepted a webhook.test event (HTTP 200); Zapier answers so even for a Zap that is off, so check that the Zap is on.",
    "CRM_PLATFORM": "The access token works for HubSpot portal 12345678.",
    "CLOUD_STORAGE": "Folder 'Client files' can take new files.",
}


@pytest.mark.parametrize("type_name", GOOD_SENTENCES)
def test_a_good_check_answers_its_sentence_and_is_recorded(type_name, admin_api, make, mock):
    integration = make(type_name)
    svc.good(type_name, mock)

    response = check(admin_api, integration)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["detail"] == GOOD_SENTENCES[type_name]
    detail = admin_api.get(f"/api/integrations/{integration.pk}").json()
    assert (detail["lastCheckOk"], detail["lastCheckedAt"], detail["lastCheckDetail"]) == (True, body["checkedAt"], body["detail"])
    assert_no_secret(response, integration)


def test_each_service_gets_its_credential_the_documented_way(admin_api, make, mock):
    for type_name in svc.VALUES:
        svc.good(type_name, mock)
        check(admin_api, make(type_name))
    headers = {call.request.url.split("?")[0]: call.request.headers for call in mock.calls}

    assert headers[f"{svc.CARBONE}/templates"]["Authorization"] == f"Bearer {svc.KEYS['carbone']}"
    assert headers[f"{svc.CARBONE}/templates"]["carbone-version"] == "5"
    assert headers[f"{svc.SLACK}/auth.test"]["Authorization"] == f"Bearer {svc.KEYS['slack']}"
    assert headers[f"{svc.AIRTABLE}/v0/meta/bases/appCANARYbase01/tables"]["Authorization"] == f"Bearer {svc.KEYS['airtable']}"
    assert headers[f"{svc.HUBSPOT}/account-info/v3/details"]["Authorization"] == f"Bearer {svc.KEYS['hubspot']}"
    assert headers[f"{svc.DRIVE}/drive/v3/files/1AbcFolder"]["Authorization"] == f"Bearer {svc.KEYS['drive_access']}"
    assert "Authorization" not in headers[svc.WEBHOOK] and "Authorization" not in headers[svc.ZAPIER]


def test_the_drive_check_asks_for_the_folder_fields_across_shared_drives(admin_api, make, mock):
    svc.drive_file(mock)
    check(admin_api, make("CLOUD_STORAGE"))

    params = mock.calls[0].request.params
    assert params == {"supportsAllDrives": "true", "fields": "id,name,mimeType,trashed,capabilities/canAddChildren"}


def test_the_webhook_test_event_is_signed_per_standard_webhooks(admin_api, make, mock):
    svc.good("WEBHOOK", mock)
    check(admin_api, make("WEBHOOK"))

    request = mock.calls[0].request
    headers = {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    body = Webhook(svc.KEYS["webhook"]).verify(request.body, headers)  # raises unless signed with the secret
    assert body["type"] == "webhook.test" and set(body) == {"type", "timestamp", "data"}


def test_a_plain_secret_signs_with_its_utf8_bytes(admin_api, make, mock):
    svc.good("WEBHOOK", mock)
    check(admin_api, make("WEBHOOK", credentials={"secret": "plain-shared-secret-CANARY"}))

    request = mock.calls[0].request
    headers = {name: request.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    Webhook(b"plain-shared-secret-CANARY").verify(request.body, headers)


def test_the_platform_poster_sends_the_same_body_unsigned(admin_api, make, mock):
    svc.good("WEBHOOK_PLATFORM", mock)
    check(admin_api, make("WEBHOOK_PLATFORM"))

    request = mock.calls[0].request
    assert "webhook-signature" not in request.headers
    assert svc.body_of(request)["type"] == "webhook.test"


# A refused credential: 502 naming it, recorded as failed ---------------------------------------------------------

REFUSALS = {
    "DOCUMENT_ENGINE": (lambda m: svc.carbone_templates(m, 401, {"success": False, "error": f"Unauthorized, bad key {svc.KEYS['carbone']}"}),
                        "The stored API key was rejected by Carbone (HTTP 401"),
    "WEBHOOK": (lambda m: m.add(responses.POST, svc.WEBHOOK, status=401, body="bad signature"),
                "The stored signing secret was rejected by hooks.acme.example (HTTP 401"),
    "SLACK": (lambda m: svc.slack_auth(m, ok=False), "The stored bot token was rejected by Slack (invalid_auth)."),
    "EXTERNAL_DATABASE": (lambda m: svc.airtable_tables(m, status=401, error={"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}),
                          "The stored API token was rejected by Airtable (HTTP 401"),
    "WEBHOOK_PLATFORM": (lambda m: m.add(responses.POST, svc.ZAPIER, status=410, body="Gone"), "hooks.zapier.com refused the request (HTTP 410"),
    "CRM_PLATFORM": (lambda m: svc.hubspot_details(m, status=401, body=svc.HUBSPOT_REFUSED), "The stored access token was rejected by HubSpot (HTTP 401"),
    "CLOUD_STORAGE": (lambda m: (svc.drive_file(m, status=401), m.add(responses.POST, svc.TOKEN_URL, status=400, json=svc.INVALID_GRANT)),
                      "Reconnect"),
    "EMAIL_PROVIDER": (lambda m: m.add(responses.GET, f"{A}/templates", status=401, json={"name": "validation_error", "message": "API key is invalid"}),
                       "The stored API key was rejected by Resend (HTTP 401"),
    "EMAIL_PROVIDER_ALT": (lambda m: m.add(responses.GET, f"{B}/v3/templates", status=403, json={"errors": [{"message": "access forbidden"}]}),
                           "The stored API key was rejected by SendGrid (HTTP 403"),
}


@pytest.mark.parametrize("type_name", REFUSALS)
def test_a_refused_credential_is_a_502_naming_it(type_name, admin_api, make, make_integration, mock):
    integration = make_integration(type_name) if type_name.startswith("EMAIL") else make(type_name)
    plant, sentence = REFUSALS[type_name]
    plant(mock)

    response = check(admin_api, integration)

    assert response.status_code == 502, response.content
    assert response.json()["ok"] is False and sentence in response.json()["detail"]
    integration.refresh_from_db()
    assert integration.last_check_ok is False and sentence in integration.last_check_detail
    assert_no_secret(response, integration)


# The resource failures of SPEC §13's table --------------------------------------------------------------------

RESOURCE_FAILURES = {
    "hubspot portal mismatch": ("CRM_PLATFORM", lambda m: svc.hubspot_details(m, portal=99887766), "this token belongs to portal 99887766"),
    "airtable table missing": ("EXTERNAL_DATABASE", lambda m: svc.airtable_tables(m, tables=[{"id": "tblX", "name": "Clients", "fields": []}]),
                               "has no table named 'Email Log' (its tables: 'Clients')"),
    "airtable merge field missing": ("EXTERNAL_DATABASE", lambda m: svc.airtable_tables(m, tables=[{"id": "tblX", "name": "Email Log", "fields": [{"name": "To"}]}]),
                                     "has no 'Email ID' field"),
    "airtable base unknown": ("EXTERNAL_DATABASE", lambda m: svc.airtable_tables(m, status=403, error={
        "type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "message": "Invalid permissions, or the requested model was not found."}),
        "Airtable finds no base appCANARYbase01 for this token"),
    "drive folder trashed": ("CLOUD_STORAGE", lambda m: svc.drive_file(m, trashed=True), "Folder 'Client files' is in the trash"),
    "drive file not a folder": ("CLOUD_STORAGE", lambda m: svc.drive_file(m, name="notes.pdf", mime="application/pdf"), "'notes.pdf' (1AbcFolder) is a file, not a folder"),
    "drive folder missing or out of scope": ("CLOUD_STORAGE", lambda m: svc.drive_file(m, status=404), "a typed folder id needs the drive scope"),
    "drive folder read-only": ("CLOUD_STORAGE", lambda m: svc.drive_file(m, can_add=False), "cannot take new files with this account"),
    # Shapes no documented answer has, read as what they fail to say:
    "airtable fields not a list": ("EXTERNAL_DATABASE", lambda m: svc.airtable_tables(m, tables=[{"id": "tblX", "name": "Email Log", "fields": 5}]),
                                   "has no 'Email ID' field"),
    "drive capabilities not an object": ("CLOUD_STORAGE", lambda m: m.add(responses.GET, f"{svc.DRIVE}/drive/v3/files/1AbcFolder", json={
        "id": "1AbcFolder", "name": "Client files", "mimeType": svc.FOLDER_MIME, "trashed": False, "capabilities": ["canAddChildren"]}),
        "cannot take new files with this account"),
    "slack channel not found": ("SLACK", lambda m: (svc.slack_auth(m), svc.slack_channel(m, error="channel_not_found")),
                                "Slack finds no channel 'C0123ALERTS' that @opbox can see"),
    "slack bot not in a private channel": ("SLACK", lambda m: (svc.slack_auth(m), svc.slack_channel(m, is_member=False, is_private=True, scopes="chat:write,chat:write.public")),
                                           "@opbox is not a member of #alerts: invite the bot to the channel"),
    "slack public channel without chat:write.public": ("SLACK", lambda m: (svc.slack_auth(m), svc.slack_channel(m, is_member=False)),
                                                        "invite the bot to the channel (/invite @opbox)"),
}  # fmt: skip


@pytest.mark.parametrize("case", RESOURCE_FAILURES)
def test_each_resource_failure_is_a_502_naming_what_failed(case, admin_api, make, mock):
    type_name, plant, sentence = RESOURCE_FAILURES[case]
    integration = make(type_name)
    plant(mock)

    response = check(admin_api, integration)

    assert response.status_code == 502, response.content
    assert sentence in response.json()["detail"]
    assert sentence in Integration.objects.get(pk=integration.pk).last_check_detail


def test_a_public_channel_with_chat_write_public_passes_without_membership(admin_api, make, mock):
    svc.slack_auth(mock)
    svc.slack_channel(mock, is_member=False, scopes="chat:write, chat:write.public,channels:read")

    response = check(admin_api, make("SLACK"))

    assert response.status_code == 200 and "post without joining" in response.json()["detail"]


def test_slack_without_a_bot_token_posts_a_test_message_to_its_webhook(admin_api, make, mock):
    mock.add(responses.POST, svc.SLACK_HOOK, body="ok")

    response = check(admin_api, make("SLACK", config={"webhookUrl": svc.SLACK_HOOK}, credentials={}))

    assert response.status_code == 200 and "incoming webhook accepted a test message" in response.json()["detail"]
    assert "text" in svc.body_of(mock.calls[0].request)


def test_a_revoked_slack_webhook_is_a_502(admin_api, make, mock):
    mock.add(responses.POST, svc.SLACK_HOOK, status=404, body="no_service")

    response = check(admin_api, make("SLACK", config={"webhookUrl": svc.SLACK_HOOK}, credentials={}))

    assert response.status_code == 502 and "(HTTP 404: no_service)" in response.json()["detail"]


def test_a_missing_value_is_a_409_saying_what_to_add_and_is_recorded(admin_api, make):
    integration = make("CRM_PLATFORM", credentials={})

    response = check(admin_api, integration)

    assert response.status_code == 409 and "has no accessToken" in response.json()["detail"]
    assert Integration.objects.get(pk=integration.pk).last_check_ok is False


# No answer within the timeout -> 504 -----------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", svc.FIRST_CALL)
def test_a_silent_service_is_a_504(type_name, admin_api, make, make_integration, mock):
    integration = make_integration(type_name) if type_name.startswith("EMAIL") else make(type_name)
    method, url = svc.FIRST_CALL[type_name]
    mock.add(method, url, body=requests.ReadTimeout("no answer"))

    response = check(admin_api, integration)

    assert response.status_code == 504, response.content
    assert response.json()["ok"] is False and "did not answer within" in response.json()["detail"]
    assert Integration.objects.get(pk=integration.pk).last_check_ok is False


# Recording -------------------------------------------------------------------------------------------------------


def test_a_check_is_not_a_change_of_the_integration(admin_api, make_integration, mock):
    integration = make_integration("EMAIL_PROVIDER")
    mock.add(responses.GET, f"{A}/templates", json=TEMPLATES)

    body = check(admin_api, integration).json()

    assert body["templates"] == [{"id": "tmpl_1", "name": "Welcome", "created_at": "2026-01-10T09:00:00.000Z"}]
    refreshed = Integration.objects.get(pk=integration.pk)
    assert refreshed.updated_at == integration.updated_at and refreshed.credentials == integration.credentials
    assert admin_api.get(f"/api/integrations/{integration.pk}/audit").json()[0]["action"] == "created"


def test_a_pass_turning_into_a_failure_records_one_check_failed_event(admin_api, make, mock):
    integration = make("CRM_PLATFORM")
    svc.hubspot_details(mock)
    svc.hubspot_details(mock, portal=99887766)
    svc.hubspot_details(mock, portal=99887766)

    assert check(admin_api, integration).status_code == 200
    assert check(admin_api, integration).status_code == 502
    assert check(admin_api, integration).status_code == 502  # still failing: no second event

    (event,) = WorkspaceEvent.objects.all()
    assert event.type == "integration.check_failed" and event.workspace_id == integration.workspace_id
    assert event.data == {"id": integration.pk, "name": integration.name, "type": "CRM_PLATFORM",
                          "lastCheckDetail": Integration.objects.get(pk=integration.pk).last_check_detail}  # fmt: skip


def test_a_first_check_that_fails_records_no_event(admin_api, make, mock):
    svc.hubspot_details(mock, portal=99887766)

    check(admin_api, make("CRM_PLATFORM"))

    assert not WorkspaceEvent.objects.exists()


def test_a_key_sealed_under_a_dropped_key_id_fails_the_check_with_a_503(admin_api, make_integration, settings):
    integration = make_integration("EMAIL_PROVIDER", credentials={"apiKey": "re_CANARY_check_9a8b7c6d5e"})
    settings.OPBOX_ENCRYPTION_KEYS = ["bmV3LWtleS0zMi1ieXRlcy1sb25nLWZvci10ZXN0cyE="]

    response = check(admin_api, integration)

    assert response.status_code == 503
    assert "not in OPBOX_ENCRYPTION_KEYS" in response.json()["detail"] and "CANARY" not in response.content.decode()
    assert Integration.objects.filter(pk=integration.pk).values_list("last_check_ok", flat=True).get() is False


def test_a_rate_limited_check_pauses_the_integration_for_every_worker(admin_api, make, mock):
    from integrations.models import IntegrationPace

    integration = make("CRM_PLATFORM")
    mock.add(responses.GET, f"{svc.HUBSPOT}/account-info/v3/details", status=429, headers={"Retry-After": "10"},
             json={"status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT", "policyName": "SECONDLY"})  # fmt: skip

    response = check(admin_api, integration)

    assert response.status_code == 502 and "rate limit" in response.json()["detail"]
    assert IntegrationPace.objects.get(pk=integration.pk).paused_until is not None
