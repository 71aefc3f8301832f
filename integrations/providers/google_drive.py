"""CLOUD_STORAGE: Google Drive v3 at GOOGLE_DRIVE_API_URL, with OAuth 2 tokens refreshed at GOOGLE_OAUTH_TOKEN_URL.

Drive errors are `{"error": {"code", "message", "errors": [{"reason": "notFound" | "authError" | ...}]}}`. The
token endpoint takes a form-encoded `grant_type=refresh_token` and answers `{"access_token", "expires_in",
"token_type"}` (with a `refresh_token` when the service rotates them), or 400 `{"error": "invalid_grant"}` when the
refresh token is expired or revoked. Which token a call uses, and the one refresh however many callers want one,
are the token source's business (integrations/oauth.py); this module only speaks HTTP.
"""

import json
import uuid
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

from django.conf import settings

from .client import BearerAuth, CheckResult, Secret, ServiceClient
from .exceptions import (
    InvalidGrant,
    MissingSetting,
    OAuthNotConfigured,
    ProviderAuthError,
    ProviderError,
    ProviderQuotaExceeded,
    ProviderRateLimited,
    ProviderResourceError,
)

FOLDER = "application/vnd.google-apps.folder"
FOLDER_FIELDS = "id,name,mimeType,trashed,capabilities/canAddChildren"
DOCUMENT_PROPERTY = "opboxDocumentId"  # the appProperty an upload carries, looked for before a retry


class TokenSource(Protocol):
    """Where a Drive client gets its access token, and a fresh one after a 401."""

    def access_token(self) -> str: ...

    def refreshed(self, rejected: str) -> str | None:
        """A new access token after `rejected` was refused, or None when this source cannot refresh."""

    def secrets(self) -> tuple[str, ...]:
        """Every token the source holds now (scrubbed from any text)."""


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str
    expires_in: float | None
    refresh_token: str | None  # a rotated refresh token, when the answer carries one


class GoogleOAuthClient(ServiceClient):
    """The token endpoint: one refresh per call (not idempotent: a rotated refresh token is spent by the first)."""

    provider_name = "Google's token endpoint"
    authenticates = False
    credential_name = "refreshToken"
    credential_label = "refresh token"

    @classmethod
    def configured(cls, refresh_token: str, *, unsaved: bool = False) -> "GoogleOAuthClient":
        client_id, client_secret = settings.GOOGLE_OAUTH_CLIENT_ID, settings.GOOGLE_OAUTH_CLIENT_SECRET
        if not client_id or not client_secret:
            raise OAuthNotConfigured(
                "The access token needs refreshing, and GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET are not both "
                "set: set them to the OAuth client the tokens were issued to."
            )
        client = cls(refresh_token, base_url=settings.GOOGLE_OAUTH_TOKEN_URL, timeout=settings.INTEGRATION_REQUEST_TIMEOUT,
                     secrets=(client_secret,), unsaved=unsaved)  # fmt: skip
        client._client = (client_id, Secret(client_secret))
        return client

    def _error_class(self, status, code):
        if code == "invalid_grant":
            return InvalidGrant
        if code in ("invalid_client", "unauthorized_client"):
            return OAuthClientRefused
        return super()._error_class(status, code)

    def refresh(self) -> TokenAnswer:
        client_id, client_secret = self._client
        form = {"grant_type": "refresh_token", "refresh_token": self._credential.value, "client_id": client_id,
                "client_secret": client_secret.value}  # fmt: skip
        answer = self._json(self._request("POST", "", data=form, idempotent=False))
        access, expires, rotated = answer.get("access_token"), answer.get("expires_in"), answer.get("refresh_token")
        if not isinstance(access, str) or not access:
            raise self._bad_response("a token answer without an access_token")
        expires = float(expires) if isinstance(expires, int | float) and not isinstance(expires, bool) else None
        return TokenAnswer(access, expires, rotated if isinstance(rotated, str) and rotated else None)


class OAuthClientRefused(ProviderAuthError):
    """The token endpoint refused the OAuth client itself (its id or secret): a deploy to fix."""

    @property
    def detail(self) -> str:
        return f"{self} Check GOOGLE_OAUTH_CLIENT_ID and GOOGLE_OAUTH_CLIENT_SECRET."


class GoogleDriveClient(ServiceClient):
    provider_name = "Google Drive"
    credential_name = "accessToken"
    credential_label = "access token"
    refreshes_tokens = True
    error_codes = {
        "authError": ProviderAuthError,
        "notFound": ProviderResourceError,
        "rateLimitExceeded": ProviderRateLimited,
        "userRateLimitExceeded": ProviderRateLimited,
        "dailyLimitExceeded": ProviderQuotaExceeded,
    }
    check_proves = "Drive accepts the token (refreshed when due), and the root folder exists, is not trashed and can take new files."
    default_events = ("document.generated",)

    def __init__(self, tokens: TokenSource, *, folder_id: str = "", **kwargs):
        super().__init__("", **kwargs)
        self.tokens = tokens
        self.folder_id = folder_id.strip()

    @classmethod
    def from_values(cls, config, credentials, *, service_url, timeout, identity, unsaved=False, tokens=None):
        if not credentials.get("accessToken") and not credentials.get("refreshToken"):
            raise MissingSetting(f"The cloud storage {identity['name']!r} has no accessToken or refreshToken: add them first.")
        if not config.get("rootFolderId"):
            raise MissingSetting(f"The cloud storage {identity['name']!r} has no rootFolderId: add the folder's id first.")
        return cls(tokens, base_url=service_url, timeout=timeout, unsaved=unsaved, folder_id=config["rootFolderId"])

    def _held_secrets(self):
        return [*self._secrets, *(Secret(value) for value in self.tokens.secrets() if value)]

    def _error_details(self, payload, response):
        error = payload.get("error") if isinstance(payload, dict) else None
        if not isinstance(error, dict):
            return super()._error_details(payload, response)
        reasons = [item.get("reason") for item in error.get("errors") or [] if isinstance(item, dict)]
        return str(next((reason for reason in reasons if reason), "")), str(error.get("message") or "")

    def _authorized(self, method: str, path: str, **kwargs):
        """A call with the current access token; a 401 refreshes once and retries once."""
        token = self.tokens.access_token()
        self._credential = Secret(token)
        try:
            return self._request(method, path, **kwargs)
        except ProviderAuthError as error:
            if error.status_code != 401 or not (fresh := self.tokens.refreshed(token)):
                raise
        self._credential = Secret(fresh)
        return self._request(method, path, **kwargs)

    def _auth(self):
        return BearerAuth(self._credential)

    def check(self) -> CheckResult:
        """`GET /drive/v3/files/{rootFolderId}` is a folder, not trashed, that can take children."""
        try:
            answer = self._json(self._authorized(
                "GET", f"/drive/v3/files/{quote(self.folder_id, safe='')}",
                params={"supportsAllDrives": "true", "fields": FOLDER_FIELDS},
            ))  # fmt: skip
        except ProviderResourceError:
            raise self._resource_error(
                f"Drive finds no folder {self.folder_id} for this token: it is missing, or outside the token's scope "
                "(drive.file sees only files the app created or was given; a typed folder id needs the drive scope)."
            ) from None
        name = answer.get("name") or self.folder_id
        if answer.get("mimeType") != FOLDER:
            raise self._resource_error(f"{name!r} ({self.folder_id}) is a file, not a folder: use a folder's id.")
        if answer.get("trashed") is True:
            raise self._resource_error(f"Folder {name!r} is in the trash: restore it, or choose another folder.")
        capabilities = answer.get("capabilities")
        if not isinstance(capabilities, dict) or capabilities.get("canAddChildren") is not True:
            raise self._resource_error(f"Folder {name!r} cannot take new files with this account: share it with edit rights.")
        return CheckResult(f"Folder {name!r} can take new files.")

    def deliver(self, events) -> str:
        """Upload the document into the root folder (multipart: metadata with `appProperties.opboxDocumentId`, then
        the bytes). A retry first looks for an earlier upload of it (its attempt may have reached Drive before
        the answer was lost), so nothing is uploaded twice."""
        (event,) = events
        document_id = str(event.data.get("id") or "")
        if event.document is None or not document_id:
            raise self._error(ProviderError, "The document's file is not stored (or the event names no document): nothing to upload.")
        if event.attempt > 1 and (found := self._earlier_upload(document_id)):
            return f"found {found}"
        metadata = {"name": event.document.filename, "parents": [self.folder_id], "appProperties": {DOCUMENT_PROPERTY: document_id}}
        boundary = f"opbox-{uuid.uuid4().hex}"
        body = b"".join([
            f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n".encode(), json.dumps(metadata).encode(),
            f"\r\n--{boundary}\r\nContent-Type: {event.document.content_type}\r\n\r\n".encode(), event.document.read(),
            f"\r\n--{boundary}--\r\n".encode(),
        ])  # fmt: skip
        response = self._authorized(
            "POST", "/upload/drive/v3/files", params={"uploadType": "multipart", "supportsAllDrives": "true", "fields": "id"},
            data=body, headers={"Content-Type": f"multipart/related; boundary={boundary}"}, idempotent=False,
        )  # fmt: skip
        return str(response.status_code)

    def _earlier_upload(self, document_id: str) -> str:
        """The id of a file in the root folder uploaded for this document, or ""."""
        quoted = document_id.replace("\\", "\\\\").replace("'", "\\'")
        query = f"appProperties has {{ key='{DOCUMENT_PROPERTY}' and value='{quoted}' }} and trashed = false"
        answer = self._json(self._authorized("GET", "/drive/v3/files", params={
            "q": query, "supportsAllDrives": "true", "includeItemsFromAllDrives": "true", "fields": "files(id,name)", "pageSize": "1",
        }))  # fmt: skip
        files = answer.get("files") if isinstance(answer.get("files"), list) else []
        return str(files[0].get("id") or "") if files and isinstance(files[0], dict) else ""
