"""DOCUMENT_ENGINE: the Carbone API v5, Carbone Cloud (https://api.carbone.io) or on-premise at config `baseUrl`.

Every call sends `Authorization: Bearer <apiKey>` and `carbone-version: 5`. Answers are
`{"success": true, "data": ...}`; a refusal is `{"success": false, "error": "<text>"}` (also with a 200).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import quote

from .base import MAX_PAGES, ProviderTemplate
from .client import CheckResult, ServiceClient, _json_or_none
from .exceptions import MissingSetting

CLOUD_URL = "https://api.carbone.io"
API_VERSION = "5"
PAGE_SIZE = 100  # the most Carbone's `GET /templates` returns per page
CHUNK_BYTES = 64 * 1024  # a rendered file is read this much at a time, never whole
MAX_ERROR_BYTES = 64 * 1024  # of a JSON refusal to a render


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

    def list_templates(self) -> list[ProviderTemplate]:
        """Every template, page by page: `GET /templates?limit=100[&cursor=]` while `hasMore`, following `nextCursor`."""
        templates, cursor = [], None
        for _ in range(MAX_PAGES):
            params = {"limit": PAGE_SIZE, **({"cursor": cursor} if cursor else {})}
            page = self._json(self._request("GET", "/templates", params=params))
            if page.get("success") is not True or not isinstance(page.get("data"), list):
                raise self._bad_response("a template list without `success: true` and a `data` list")
            templates.extend(self._template(item) for item in page["data"])
            cursor = page.get("nextCursor")
            if page.get("hasMore") is not True:
                return templates
            if not isinstance(cursor, str) or not cursor:
                raise self._bad_response("`hasMore` without a `nextCursor`")
        raise self._bad_response(f"more than {MAX_PAGES} pages of templates")

    @contextmanager
    def render(self, template_id: str, data: dict, convert_to: str) -> Iterator[Iterator[bytes]]:
        """`POST /render/{templateId}?download=true` with `{"data", "convertTo"}`: Carbone answers the file's bytes.

        Yields an iterator of the body's chunks, read from the connection as the caller consumes them (the
        connection is released on exit). A refusal raises a `ProviderError` before anything is yielded: Carbone's
        400/404 for the template or data is a `ProviderRejected` carrying its message.
        """
        response = self._request(
            "POST", f"/render/{quote(template_id, safe='')}", params={"download": "true"},
            json={"data": data, "convertTo": convert_to}, stream=True, idempotent=True, checks_flag=False,
        )  # fmt: skip
        try:
            if response.headers.get("Content-Type", "").split(";")[0].strip() == "application/json":
                # A JSON answer to a download is Carbone's refusal (`{"success": false, "error"}`), even with a 200.
                body = response.raw.read(MAX_ERROR_BYTES, decode_content=True)
                response._content = body
                payload = _json_or_none(response)
                if isinstance(payload, dict) and payload.get(self.success_flag) is False:
                    raise self._error_for(response, payload)
                raise self._bad_response("a JSON body where the rendered file was expected")
            yield self._body_chunks(response, CHUNK_BYTES, idempotent=True)
        finally:
            response.close()

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
