"""DOCUMENT_ENGINE: the Carbone API v5, Carbone Cloud (https://api.carbone.io) or on-premise at config `baseUrl`.

Every call sends `Authorization: Bearer <apiKey>` and `carbone-version: 5`. Answers are
`{"success": true, "data": ...}`; a refusal is `{"success": false, "error": "<text>"}` (also with a 200).
"""

from datetime import UTC, datetime

from .base import ProviderTemplate
from .client import CheckResult, ServiceClient
from .exceptions import MissingSetting

CLOUD_URL = "https://api.carbone.io"
API_VERSION = "5"


class CarboneClient(ServiceClient):
    provider_name = "Carbone"
    guarded = True  # `baseUrl` is typed by users (an on-premise server)
    success_flag = "success"
    check_proves = "Carbone accepts the API key at the configured URL: it lists the account's templates."

    @classmethod
    def from_values(cls, config, credentials, *, service_url, timeout, identity, unsaved=False, tokens=None):
        if not credentials.get("apiKey"):
            raise MissingSetting(f"The document engine {identity['name']!r} has no apiKey: add one first.")
        return cls(credentials["apiKey"], base_url=config.get("baseUrl") or CLOUD_URL, timeout=timeout, unsaved=unsaved)

    def _request(self, method, path="", **kwargs):
        kwargs["headers"] = {"carbone-version": API_VERSION, **kwargs.get("headers", {})}
        return super()._request(method, path, **kwargs)

    def _error_details(self, payload, response):
        # Carbone's `error` is a sentence, not a code.
        if isinstance(payload, dict) and payload.get("error"):
            return "", str(payload["error"])
        return "", ""

    def check(self) -> CheckResult:
        """`GET /templates?limit=1` answers 200 `{"success": true, "data": [...]}`."""
        page = self._json(self._request("GET", "/templates", params={"limit": 1}))
        if page.get("success") is not True or not isinstance(page.get("data"), list):
            raise self._bad_response("a template list without `success: true` and a `data` list")
        templates = [self._template(item) for item in page["data"]]
        listed = f" (first: {templates[0].name or templates[0].id})" if templates else " (none uploaded yet)"
        return CheckResult(f"Carbone at {self.base_url} accepts the API key and lists its templates{listed}.", templates)

    def _template(self, item) -> ProviderTemplate:
        """`{"id", "versionId", "name", "createdAt": <Unix seconds>}`; a template stored without versioning has no id."""
        if not isinstance(item, dict):
            raise self._bad_response("a template that is not an object")
        template_id = item.get("id") or item.get("versionId")
        created = item.get("createdAt")
        if not isinstance(template_id, str) or not template_id or isinstance(created, bool) or not isinstance(created, int | float):
            raise self._bad_response("a template without an id or a createdAt time")
        try:
            created_at = datetime.fromtimestamp(created, UTC)
        except (ValueError, OverflowError, OSError):
            raise self._bad_response(f"template {template_id} has an impossible createdAt") from None
        return ProviderTemplate(id=template_id, name=str(item.get("name") or ""), created_at=created_at)
