"""The services' documented request and answer shapes, as `responses` mocks: one place that every test of the
connectors, the checks and the pages builds its fake services from.

Shapes, as each service documents them:
- Carbone v5: `GET /templates` -> `{"success": true, "data": [{"id", "versionId", "name", "createdAt"}], "hasMore",
  "nextCursor"}`; a refusal `{"success": false, "error": "..."}`.
- Slack Web API: HTTP 200 `{"ok": true, ...}` or `{"ok": false, "error": "<code>"}`; `X-OAuth-Scopes` lists the
  token's scopes. An incoming webhook answers 200 `ok`, or a 4xx with the reason as plain text.
- Airtable: `GET /v0/meta/bases/{baseId}/tables` -> `{"tables": [{"id", "name", "primaryFieldId", "fields": [{"id",
  "name", "type"}], "views"}]}`; errors `{"error": {"type", "message"}}`.
- HubSpot: `GET /account-info/v3/details` -> `{"portalId", "accountType", "timeZone", "companyCurrency", ...}`;
  errors `{"status": "error", "message", "correlationId", "category"}`.
- Google Drive v3: `GET /drive/v3/files/{id}?fields=...` -> the fields asked for; errors `{"error": {"code",
  "message", "errors": [{"domain", "reason", "message"}]}}`. The token endpoint: `{"access_token", "expires_in",
  "scope", "token_type"}`, or 400 `{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}`.
"""

import json

import responses

CARBONE = "https://carbone.acme.example"
SLACK = "https://slack.test/api"
SLACK_HOOK = "https://hooks.slack.com/services/T0001/B0001/CANARYhookpath"
AIRTABLE = "https://api.airtable.com"
HUBSPOT = "https://hubspot.test"
DRIVE = "https://drive.test"
TOKEN_URL = "https://oauth.test/token"
WEBHOOK = "https://hooks.acme.example/in"
ZAPIER = "https://hooks.zapier.com/hooks/catch/123/abcdef/"
FOLDER_MIME = "application/vnd.google-apps.folder"

# Planted credentials: none of them may come back out (responses, details, logs, pages).
KEYS = {
    "carbone": "carbone_CANARY_key_11aa22bb33cc",
    "slack": "xoxb-CANARY-slack-44dd55ee66ff",
    "airtable": "patCANARYairtable.77aa88bb99cc",
    "hubspot": "pat-na1-CANARY-hubspot-00dd11ee",
    "drive_access": "ya29.CANARY-access-22ff33aa44bb",
    "drive_refresh": "1//CANARY-refresh-55cc66dd77ee",
    "webhook": "whsec_Q0FOQVJZLW91dGJvdW5kLXdlYmhvb2stc2VjcmV0",
}

VALUES = {
    "DOCUMENT_ENGINE": ({"baseUrl": CARBONE}, {"apiKey": KEYS["carbone"]}),
    "WEBHOOK": ({"url": WEBHOOK}, {"secret": KEYS["webhook"]}),
    "SLACK": ({"channel": "C0123ALERTS"}, {"botToken": KEYS["slack"]}),
    "EXTERNAL_DATABASE": ({"baseId": "appCANARYbase01"}, {"apiToken": KEYS["airtable"]}),
    "WEBHOOK_PLATFORM": ({"webhookUrl": ZAPIER}, {}),
    "CRM_PLATFORM": ({"portalId": "12345678"}, {"accessToken": KEYS["hubspot"]}),
    "CLOUD_STORAGE": ({"rootFolderId": "1AbcFolder"}, {"accessToken": KEYS["drive_access"], "refreshToken": KEYS["drive_refresh"]}),
}


def carbone_templates(mock, status=200, body=None):
    body = body or {
        "success": True, "hasMore": False, "nextCursor": None,
        "data": [{"id": "tpl-engagement", "versionId": "9f8e7d", "name": "Engagement letter", "createdAt": 1767949200,
                  "type": "docx", "size": 18452, "category": "Letters", "tags": []}],
    }  # fmt: skip
    return mock.add(responses.GET, f"{CARBONE}/templates", status=status, json=body)


def slack_auth(mock, ok=True, error="invalid_auth"):
    body = {"ok": True, "url": "https://acme.slack.com/", "team": "Acme Legal", "user": "opbox", "team_id": "T0001",
            "user_id": "U0BOT", "bot_id": "B0BOT"} if ok else {"ok": False, "error": error}  # fmt: skip
    return mock.add(responses.POST, f"{SLACK}/auth.test", json=body)


def slack_channel(mock, *, is_member=True, is_private=False, scopes="chat:write,channels:read", error=None):
    if error:
        return mock.add(responses.GET, f"{SLACK}/conversations.info", json={"ok": False, "error": error}, headers={"X-OAuth-Scopes": scopes})
    channel = {"id": "C0123ALERTS", "name": "alerts", "is_channel": True, "is_private": is_private, "is_archived": False,
               "is_member": is_member, "created": 1449252889}  # fmt: skip
    return mock.add(responses.GET, f"{SLACK}/conversations.info", json={"ok": True, "channel": channel}, headers={"X-OAuth-Scopes": scopes})


def airtable_tables(mock, base="appCANARYbase01", tables=None, status=200, error=None):
    url = f"{AIRTABLE}/v0/meta/bases/{base}/tables"
    if error:
        return mock.add(responses.GET, url, status=status, json={"error": error})
    tables = tables if tables is not None else [
        {"id": "tblEmails", "name": "Email Log", "primaryFieldId": "fldEmailId", "views": [{"id": "viwGrid", "name": "Grid view", "type": "grid"}],
         "fields": [{"id": "fldEmailId", "name": "Email ID", "type": "singleLineText"}, {"id": "fldTo", "name": "To", "type": "singleLineText"}]},
        {"id": "tblClients", "name": "Clients", "primaryFieldId": "fldName", "views": [], "fields": [{"id": "fldName", "name": "Name", "type": "singleLineText"}]},
    ]  # fmt: skip
    return mock.add(responses.GET, url, json={"tables": tables})


def hubspot_details(mock, portal=12345678, status=200, body=None):
    body = body or {"portalId": portal, "accountType": "STANDARD", "timeZone": "US/Eastern", "companyCurrency": "USD",
                    "additionalCurrencies": [], "utcOffset": "-05:00", "utcOffsetMilliseconds": -18000000,
                    "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1"}  # fmt: skip
    return mock.add(responses.GET, f"{HUBSPOT}/account-info/v3/details", status=status, json=body)


HUBSPOT_REFUSED = {"status": "error", "message": "Authentication credentials not found.", "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c",
                   "category": "INVALID_AUTHENTICATION"}  # fmt: skip


def drive_file(mock, folder="1AbcFolder", *, name="Client files", mime=FOLDER_MIME, trashed=False, can_add=True, status=200):
    url = f"{DRIVE}/drive/v3/files/{folder}"
    if status == 404:
        message = f"File not found: {folder}."
        body = {"error": {"code": 404, "message": message, "errors": [
            {"message": message, "domain": "global", "reason": "notFound", "location": "fileId", "locationType": "parameter"}]}}  # fmt: skip
        return mock.add(responses.GET, url, status=404, json=body)
    if status == 401:
        message = "Request had invalid authentication credentials. Expected OAuth 2 access token."
        body = {"error": {"code": 401, "message": message, "status": "UNAUTHENTICATED",
                          "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError"}]}}  # fmt: skip
        return mock.add(responses.GET, url, status=401, json=body)
    body = {"id": folder, "name": name, "mimeType": mime, "trashed": trashed, "capabilities": {"canAddChildren": can_add}}
    return mock.add(responses.GET, url, json=body)


def token_answer(access="ya29.fresh-access-token", refresh=None, expires_in=3599):
    body = {"access_token": access, "expires_in": expires_in, "scope": "https://www.googleapis.com/auth/drive", "token_type": "Bearer"}
    return body | ({"refresh_token": refresh} if refresh else {})


INVALID_GRANT = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}


def form(request) -> dict:
    """The form fields of a form-encoded request."""
    from urllib.parse import parse_qs

    return {key: values[-1] for key, values in parse_qs(request.body if isinstance(request.body, str) else request.body.decode()).items()}


def body_of(request) -> dict:
    return json.loads(request.body)


def good(type_name: str, mock) -> None:
    """Mocks under which the check of VALUES[type_name] passes."""
    {
        "DOCUMENT_ENGINE": lambda: carbone_templates(mock),
        "WEBHOOK": lambda: mock.add(responses.POST, WEBHOOK, json={"received": True}),
        "SLACK": lambda: (slack_auth(mock), slack_channel(mock)),
        "EXTERNAL_DATABASE": lambda: airtable_tables(mock),
        "WEBHOOK_PLATFORM": lambda: mock.add(responses.POST, ZAPIER, json={"attempt": "a1", "id": "e1", "request_id": "r1", "status": "success"}),
        "CRM_PLATFORM": lambda: hubspot_details(mock),
        "CLOUD_STORAGE": lambda: drive_file(mock),
    }[type_name]()


# The first URL each type's check calls: where a timeout is planted.
FIRST_CALL = {
    "DOCUMENT_ENGINE": (responses.GET, f"{CARBONE}/templates"),
    "WEBHOOK": (responses.POST, WEBHOOK),
    "SLACK": (responses.POST, f"{SLACK}/auth.test"),
    "EXTERNAL_DATABASE": (responses.GET, f"{AIRTABLE}/v0/meta/bases/appCANARYbase01/tables"),
    "WEBHOOK_PLATFORM": (responses.POST, ZAPIER),
    "CRM_PLATFORM": (responses.GET, f"{HUBSPOT}/account-info/v3/details"),
    "CLOUD_STORAGE": (responses.GET, f"{DRIVE}/drive/v3/files/1AbcFolder"),
    "EMAIL_PROVIDER": (responses.GET, "https://provider-a.test/templates"),
    "EMAIL_PROVIDER_ALT": (responses.GET, "https://provider-b.test/v3/templates"),
}
