"""The fakes of the services other than email (mixed into scripts/fake_providers.py's handler), answering in each
service's documented shapes, so every integration type can be added and checked offline:

    /carbone   Carbone API v5 (DOCUMENT_ENGINE baseUrl http://127.0.0.1:8025/carbone): templates, and
               `POST /render/{templateId}?download=true` answering a 100 KiB file at once (a template id
               `bytes-N` answers N bytes; one containing `missing` is Carbone's 404)
    /slack/api Slack Web API (SLACK_API_URL); /slack/hooks/... a Slack incoming webhook
    /airtable  Airtable (EXTERNAL_DATABASE baseUrl http://127.0.0.1:8025/airtable)
    /hubspot   HubSpot (HUBSPOT_API_URL): every token belongs to portal 12345678
    /drive     Google Drive v3 (GOOGLE_DRIVE_API_URL); /google/token the OAuth token endpoint (GOOGLE_OAUTH_TOKEN_URL)
    /hooks/... a webhook receiver (WEBHOOK url, WEBHOOK_PLATFORM webhookUrl)

Conventions (as for the email fakes, a credential containing `reject` is refused, `ratelimit` gets 429, `servererror`
500, `slow` an answer after 12 s): a Slack channel containing `MISSING` is not found, `PRIVATE` is a private
channel the bot is not in, `PUBLIC` a public one it is not in (a bot token containing `public` may post there);
an Airtable base id containing `missing` is not found, a table name other than `Email Log` or `Clients` is missing;
a Drive folder id containing `missing` is not found, `trashed` is in the trash, `file` is a PDF, `readonly` cannot
take files; an access token containing `expired` gets 401 (and is refreshed); a refresh token containing `revoked`
gets `invalid_grant`; a webhook path containing `gone` answers 410, `fail` 500, anything else 200.
Standard library only.
"""

import json
import time
from urllib.parse import parse_qs, unquote

FOLDER = "application/vnd.google-apps.folder"
PORTAL = 12345678
CARBONE_TEMPLATES = [
    {"id": "tpl-engagement-letter", "versionId": "3f1c9a", "name": "Engagement letter", "createdAt": 1767949200, "type": "docx", "size": 18452},
    {"id": "tpl-invoice", "versionId": "8b2e4d", "name": "Invoice", "createdAt": 1768035600, "type": "odt", "size": 9210},
]
RENDERED_BYTES = 100 * 1024  # what a render answers: a 100 KiB document
RENDERED_BLOCK = (b"%PDF-1.7\n" + bytes(range(256)) * 256)[: 64 * 1024]
CARBONE_FORMATS = {
    "pdf": "application/pdf", "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html",
}
AIRTABLE_TABLES = [
    {"id": "tblEmailLog", "name": "Email Log", "primaryFieldId": "fldEmailId", "views": [{"id": "viwGrid", "name": "Grid view", "type": "grid"}],
     "fields": [{"id": "fldEmailId", "name": "Email ID", "type": "singleLineText"}, {"id": "fldTo", "name": "To", "type": "singleLineText"},
                {"id": "fldStatus", "name": "Status", "type": "singleLineText"}]},
    {"id": "tblClients", "name": "Clients", "primaryFieldId": "fldName", "views": [], "fields": [{"id": "fldName", "name": "Name", "type": "singleLineText"}]},
]  # fmt: skip


class ServiceFakes:
    """Handler methods; the handler provides `_reply`, `_reply_and_log`, `_key`, `_raw`, `headers`."""

    def _service(self, service: str, method: str, rest: str, query: dict) -> bool:
        """Answer a request for one of these services; False when it is not theirs."""
        route = {
            ("carbone", "GET", "templates"): self._carbone_templates,
            ("slack", "POST", "api/auth.test"): self._slack_auth_test,
            ("slack", "GET", "api/conversations.info"): self._slack_conversation,
            ("slack", "POST", "api/chat.postMessage"): self._slack_post_message,
            ("hubspot", "POST", "crm/v3/objects/contacts"): self._hubspot_create_contact,
            ("hubspot", "POST", "crm/v3/objects/emails"): self._hubspot_email,
            ("hubspot", "GET", "account-info/v3/details"): self._hubspot_details,
            ("google", "POST", "token"): self._google_token,
        }.get((service, method, rest))
        if route is None:
            if service == "carbone" and method == "POST" and rest.startswith("render/"):
                route = self._carbone_render
            elif service == "slack" and method == "POST" and rest.startswith("hooks/"):
                route = self._slack_webhook
            elif service == "hooks" and method == "POST":
                route = self._webhook_receiver
            elif service == "airtable" and method == "GET" and rest.startswith("v0/meta/bases/") and rest.endswith("/tables"):
                route = self._airtable_tables
            elif service == "airtable" and method == "PATCH" and rest.startswith("v0/"):
                route = self._airtable_upsert
            elif service == "hubspot" and method == "GET" and rest.startswith("crm/v3/objects/contacts/"):
                route = self._hubspot_contact
            elif service == "drive" and method == "GET" and rest.startswith("drive/v3/files/"):
                route = self._drive_file
            else:
                return False
        route(rest, query)
        return True

    def _refusal(self, status_for_reject: int, body: dict):
        """(status, body) when the key steers a failure, else None; `slow` waits past the timeout first."""
        key = self._key()
        if not key or "reject" in key:
            return status_for_reject, body
        if "ratelimit" in key:
            return 429, {"error": "rate limited"}
        if "servererror" in key:
            return 500, {"error": "internal error"}
        if "slow" in key:
            time.sleep(12)
        return None

    def _answer(self, path, status, body, headers=None):
        self._reply_and_log(path, status, body, headers)

    # Carbone -------------------------------------------------------------------------------------

    def _carbone_templates(self, rest, query):
        refused = self._refusal(401, {"success": False, "error": "Unauthorized, please provide a valid API key on the \"Authorization\" header"})
        if refused:
            return self._answer("/carbone/templates", *refused)
        limit = int(query.get("limit", 100))
        page = CARBONE_TEMPLATES[:limit]
        more = len(CARBONE_TEMPLATES) > limit
        self._answer("/carbone/templates", 200, {"success": True, "data": page, "hasMore": more, "nextCursor": page[-1]["id"] if more else None})

    def _carbone_render(self, rest, query):
        refused = self._refusal(401, {"success": False, "error": "Unauthorized, please provide a valid API key on the \"Authorization\" header"})
        if refused:
            return self._answer("/carbone/render", *refused)
        template_id = unquote(rest.removeprefix("render/"))
        body = self._body()
        if "missing" in template_id:
            return self._answer("/carbone/render", 404, {"success": False, "error": f"Template not found: {template_id}"})
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict | list):
            return self._answer("/carbone/render", 400, {"success": False, "error": "Missing data in the request body"})
        size = int(template_id[6:]) if template_id.startswith("bytes-") and template_id[6:].isdigit() else RENDERED_BYTES
        content_type = CARBONE_FORMATS.get(body.get("convertTo") or "pdf", "application/octet-stream")
        with self.state.lock:
            self.state.calls.append({"at": time.time(), "path": "/carbone/render", "status": 200, "key": ""})
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.send_header("Content-Disposition", f'attachment; filename="{template_id}.{body.get("convertTo") or "pdf"}"')
        self.end_headers()
        left = size
        while left > 0:  # written a block at a time: a large file is never built whole
            block = RENDERED_BLOCK[: min(left, len(RENDERED_BLOCK))]
            self.wfile.write(block)
            left -= len(block)

    # Slack ---------------------------------------------------------------------------------------

    def _slack_refusal(self):
        key = self._key()
        if not key or "reject" in key:
            return {"ok": False, "error": "invalid_auth"}
        return None

    def _slack_auth_test(self, rest, query):
        refused = self._slack_refusal()
        body = refused or {"ok": True, "url": "https://acme.slack.com/", "team": "Acme Legal", "user": "opbox",
                           "team_id": "T0FAKE", "user_id": "U0OPBOX", "bot_id": "B0OPBOX"}  # fmt: skip
        self._answer("/slack/api/auth.test", 200, body)

    def _slack_conversation(self, rest, query):
        scopes = "chat:write,channels:read,groups:read" + (",chat:write.public" if "public" in self._key() else "")
        refused = self._slack_refusal()
        channel = query.get("channel", "")
        if refused or "MISSING" in channel or not channel:
            return self._answer("/slack/api/conversations.info", 200, refused or {"ok": False, "error": "channel_not_found"}, {"X-OAuth-Scopes": scopes})
        private, outside = "PRIVATE" in channel, "PRIVATE" in channel or "PUBLIC" in channel
        body = {"ok": True, "channel": {"id": channel, "name": "alerts" if not private else "partners", "is_channel": True,
                                        "is_private": private, "is_archived": False, "is_member": not outside, "created": 1449252889}}  # fmt: skip
        self._answer("/slack/api/conversations.info", 200, body, {"X-OAuth-Scopes": scopes})

    def _slack_webhook(self, rest, query):
        status, text = (404, b"no_service") if "revoked" in rest else (200, b"ok")
        if status == 200:
            self._keep("slack", f"/slack/{rest}")
        self._plain(f"/slack/{rest}", status, text)

    def _slack_post_message(self, rest, query):
        refused = self._slack_refusal()
        body = json.loads(self._raw or b"{}")
        channel = str(body.get("channel") or "")
        if refused or "MISSING" in channel:
            return self._answer("/slack/api/chat.postMessage", 200, refused or {"ok": False, "error": "channel_not_found"})
        self._keep("slack", "/slack/api/chat.postMessage")
        self._answer("/slack/api/chat.postMessage", 200, {"ok": True, "channel": channel, "ts": f"{time.time():.6f}", "message": {"text": body.get("text")}})

    def _keep(self, service: str, path: str):
        """Record what a delivery brought (GET /_sent lists it), without its Authorization header."""
        headers = {name: value for name, value in self.headers.items() if name.lower() != "authorization"}
        with self.state.lock:
            self.state.sent.append({"provider": service, "path": path, "headers": headers, "body": json.loads(self._raw or b"{}"), "at": time.time()})

    # Airtable, HubSpot ---------------------------------------------------------------------------

    def _airtable_tables(self, rest, query):
        path = f"/airtable/{rest}"
        refused = self._refusal(401, {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}})
        if refused:
            return self._answer(path, *refused)
        base = unquote(rest.split("/")[3])
        if "missing" in base:
            error = {"type": "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND", "message": "Invalid permissions, or the requested model was not found."}
            return self._answer(path, 403, {"error": error})
        self._answer(path, 200, {"tables": AIRTABLE_TABLES})

    def _hubspot_details(self, rest, query):
        refused = self._refusal(401, {"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION",
                                      "correlationId": "00000000-0000-4000-8000-000000000000"})  # fmt: skip
        if refused:
            return self._answer("/hubspot/account-info/v3/details", *refused)
        self._answer("/hubspot/account-info/v3/details", 200, {
            "portalId": PORTAL, "accountType": "STANDARD", "timeZone": "US/Eastern", "companyCurrency": "USD", "additionalCurrencies": [],
            "utcOffset": "-05:00", "utcOffsetMilliseconds": -18000000, "uiDomain": "app.hubspot.com", "dataHostingLocation": "na1",
        })  # fmt: skip

    # Google Drive and its token endpoint ---------------------------------------------------------

    def _drive_file(self, rest, query):
        folder = unquote(rest.rsplit("/", 1)[-1])
        path = f"/drive/{rest}"
        if not self._key() or "expired" in self._key() or "reject" in self._key():
            error = {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED",
                     "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError"}]}  # fmt: skip
            return self._answer(path, 401, {"error": error})
        if "missing" in folder:
            message = f"File not found: {folder}."
            errors = [{"message": message, "domain": "global", "reason": "notFound", "location": "fileId", "locationType": "parameter"}]
            return self._answer(path, 404, {"error": {"code": 404, "message": message, "errors": errors}})
        is_file = "file" in folder
        self._answer(path, 200, {
            "id": folder, "name": "contract.pdf" if is_file else "Client files", "mimeType": "application/pdf" if is_file else FOLDER,
            "trashed": "trashed" in folder, "capabilities": {"canAddChildren": not is_file and "readonly" not in folder},
        })  # fmt: skip

    def _google_token(self, rest, query):
        form = {key: values[-1] for key, values in parse_qs(self._raw.decode()).items()}
        if form.get("grant_type") != "refresh_token" or not form.get("client_id"):
            return self._answer("/google/token", 400, {"error": "invalid_request", "error_description": "Missing grant_type or client_id."})
        if "revoked" in form.get("refresh_token", ""):
            return self._answer("/google/token", 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        self._answer("/google/token", 200, {"access_token": f"ya29.fake-{int(time.time() * 1000)}", "expires_in": 3599,
                                            "scope": "https://www.googleapis.com/auth/drive", "token_type": "Bearer"})  # fmt: skip

    def _airtable_upsert(self, rest, query):
        refused = self._refusal(401, {"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}})
        if refused:
            return self._answer(f"/airtable/{rest}", *refused)
        records = json.loads(self._raw or b"{}").get("records") or []
        if len(records) > 10:
            return self._answer(f"/airtable/{rest}", 422, {"error": {"type": "INVALID_RECORDS", "message": "At most 10 records"}})
        self._keep("airtable", f"/airtable/{rest}")
        made = [{"id": f"rec{n:014d}", "createdTime": "2026-12-05T09:00:00.000Z", "fields": r.get("fields", {})} for n, r in enumerate(records)]
        self._answer(f"/airtable/{rest}", 200, {"records": made, "createdRecords": [r["id"] for r in made], "updatedRecords": []})

    def _hubspot_contact(self, rest, query):
        refused = self._refusal(401, {"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"})
        if refused:
            return self._answer(f"/hubspot/{rest}", *refused)
        self._answer(f"/hubspot/{rest}", 404, {"status": "error", "message": "Object not found.", "category": "OBJECT_NOT_FOUND"})

    def _hubspot_create_contact(self, rest, query):
        self._answer(f"/hubspot/{rest}", 201, {"id": "501", "properties": json.loads(self._raw or b"{}").get("properties", {})})

    def _hubspot_email(self, rest, query):
        self._keep("hubspot", f"/hubspot/{rest}")
        self._answer(f"/hubspot/{rest}", 201, {"id": "9001", "properties": json.loads(self._raw or b"{}").get("properties", {})})

    # A webhook receiver --------------------------------------------------------------------------

    def _webhook_receiver(self, rest, query):
        path = f"/hooks/{rest}"
        if "gone" in rest:
            return self._answer(path, 410, {"error": "gone"})
        if "fail" in rest:
            return self._answer(path, 500, {"error": "failed"})
        with self.state.lock:
            self.state.sent.append({"provider": "hooks", "path": path, "headers": dict(self.headers), "body": json.loads(self._raw or b"{}"), "at": time.time()})
        self._answer(path, 200, {"received": True})

    def _plain(self, path, status, text: bytes):
        with self.state.lock:
            self.state.calls.append({"at": time.time(), "path": path, "status": status, "key": ""})
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)
