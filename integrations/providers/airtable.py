"""EXTERNAL_DATABASE: the Airtable Web API at config `baseUrl` (default https://api.airtable.com).

Errors are `{"error": {"type": "<TYPE>", "message": "..."}}` (sometimes `{"error": "<TYPE>"}`): 401
`AUTHENTICATION_REQUIRED`; 403 `INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND` for a base that does not exist or that the
token may not see; 404 `NOT_FOUND`; 429 asks for 30 seconds of quiet.
"""

from urllib.parse import quote

from .client import CheckResult, ServiceClient
from .events import email_values
from .exceptions import MissingSetting, ProviderAuthError, ProviderResourceError

API_URL = "https://api.airtable.com"
DEFAULT_TABLE = "Email Log"
MERGE_FIELD = "Email ID"  # the upsert of SPEC §15 merges on it
RATE_LIMIT_PAUSE = 30.0  # seconds: Airtable's documented wait after a 429
RECORDS_PER_REQUEST = 10  # Airtable's limit for one create/update/upsert request
MIRRORED_FIELDS = ("Sent At", "To", "Subject", "Status", "Provider", "Message ID", "Source", "Error")


class AirtableClient(ServiceClient):
    provider_name = "Airtable"
    guarded = True  # `baseUrl` may be typed by users
    credential_name = "apiToken"
    credential_label = "API token"
    error_codes = {
        "AUTHENTICATION_REQUIRED": ProviderAuthError,
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND": ProviderResourceError,
        "NOT_FOUND": ProviderResourceError,
    }
    default_events = ("email.sent", "email.failed", "email.bounced")
    delivery_batch = RECORDS_PER_REQUEST
    check_proves = f"Airtable accepts the token, and the base has the configured table with an {MERGE_FIELD!r} field."

    def __init__(self, *args, base_id: str = "", table_name: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.base_id = base_id.strip()
        self.table_name = table_name.strip() or DEFAULT_TABLE

    @classmethod
    def from_values(cls, config, credentials, *, service_url, timeout, identity, unsaved=False, tokens=None):
        missing = [name for name, value in (("apiToken", credentials.get("apiToken")), ("baseId", config.get("baseId"))) if not value]
        if missing:
            raise MissingSetting(f"The external database {identity['name']!r} has no {' and no '.join(missing)}: add it first.")
        return cls(credentials["apiToken"], base_url=config.get("baseUrl") or API_URL, timeout=timeout, unsaved=unsaved,
                   base_id=config["baseId"], table_name=config.get("tableName") or "")  # fmt: skip

    def _error_details(self, payload, response):
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict):
            return str(error.get("type") or ""), str(error.get("message") or "")
        return (error, "") if isinstance(error, str) else ("", "")

    def _retry_after(self, response):
        seconds = super()._retry_after(response)
        return RATE_LIMIT_PAUSE if seconds is None and response.status_code == 429 else seconds

    def check(self) -> CheckResult:
        """`GET /v0/meta/bases/{baseId}/tables` answers 200 and lists the table, with its merge field."""
        try:
            schema = self._json(self._request("GET", f"/v0/meta/bases/{quote(self.base_id, safe='')}/tables"))
        except ProviderResourceError as error:
            raise self._resource_error(
                f"Airtable finds no base {self.base_id} for this token: check the base id, and that the token has "
                f"schema.bases:read and access to the base ({error})"
            ) from None
        tables = schema.get("tables")
        if not isinstance(tables, list):
            raise self._bad_response("a base schema without a `tables` list")
        names = [table.get("name") for table in tables if isinstance(table, dict)]
        table = next((t for t in tables if isinstance(t, dict) and t.get("name") == self.table_name), None)
        if table is None:
            listed = ", ".join(repr(name) for name in names[:10] if isinstance(name, str)) or "none"
            raise self._resource_error(f"Base {self.base_id} has no table named {self.table_name!r} (its tables: {listed}).")
        fields = table.get("fields")
        fields = {field.get("name") for field in fields if isinstance(field, dict)} if isinstance(fields, list) else set()
        if MERGE_FIELD not in fields:
            raise self._resource_error(f"Table {self.table_name!r} has no {MERGE_FIELD!r} field: add it (emails are upserted on it).")
        return CheckResult(f"Table {self.table_name!r} in base {self.base_id} is ready: emails will be upserted on its {MERGE_FIELD!r} field.")

    def deliver(self, events) -> str:
        """Upsert one record per email (merged on "Email ID", so a retry rewrites the same record), up to 10 a
        request; the latest event of an email wins."""
        records = {}
        for event in events:
            values = email_values(event)
            fields = {MERGE_FIELD: str(event.data.get("id") or "")}
            fields.update({name: values.get(name) for name in MIRRORED_FIELDS if values.get(name) not in (None, "")})
            if event.type == "email.bounced":
                fields["Status"] = "bounced"
            records[fields[MERGE_FIELD]] = {"fields": fields}
        body = {"performUpsert": {"fieldsToMergeOn": [MERGE_FIELD]}, "records": list(records.values())[:RECORDS_PER_REQUEST], "typecast": True}
        path = f"/v0/{quote(self.base_id, safe='')}/{quote(self.table_name, safe='')}"
        return str(self._request("PATCH", path, json=body, idempotent=True).status_code)
