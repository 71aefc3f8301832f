"""OAuth 2 tokens of CLOUD_STORAGE integrations (SPEC §13): refreshed before they expire, once after a 401, and
exactly once however many workers and web processes find the same token due.

A refresh holds the integration's row lock (PostgreSQL; an exclusive transaction on SQLite) across the token
endpoint's call, and re-reads the row after taking it: a caller that waited finds the token the first one got
and makes no call of its own. The new tokens (a rotated refresh token included) are written in that same
transaction, so they are never lost to a concurrent writer; a call that fails (a timeout) writes nothing and
the stored tokens stay as they were. `invalid_grant` marks the integration as needing reconnection (recorded
with an `integration.reconnect_needed` event) and nothing refreshes again until its credentials change.
"""

from datetime import timedelta

from django.utils import timezone
from django_tasks_db.utils import exclusive_transaction

from workspaces.events import record_event
from workspaces.models import WorkspaceEventType

from .models import Integration
from .providers import InvalidGrant
from .providers.google_drive import GoogleOAuthClient
from .types import fingerprint_for

REFRESH_MARGIN = timedelta(minutes=5)  # a token expiring sooner than this is refreshed before the call

RECONNECT_DETAIL = (
    "Google refused the refresh token (invalid_grant: expired or revoked): reconnect the integration with a new "
    "refresh token. Nothing is refreshed until its credentials change."
)


class ReconnectNeeded(InvalidGrant):
    """The integration's refresh token was refused earlier: no refresh is tried until its credentials change."""


def _due(expires_at) -> bool:
    return expires_at is not None and expires_at - timezone.now() <= REFRESH_MARGIN


class StoredTokens:
    """The token source of a stored integration: its access token, refreshed when due and after a 401."""

    def __init__(self, integration: Integration):
        self.integration_id = integration.pk
        self._access = integration.credentials.get("accessToken") or ""
        self._refresh = integration.credentials.get("refreshToken") or ""
        self._expires_at = integration.token_expires_at
        self._reconnect = integration.reconnect_needed

    def access_token(self) -> str:
        if self._reconnect:
            raise ReconnectNeeded(RECONNECT_DETAIL, provider="Google", credential="refreshToken")
        if not self._access or _due(self._expires_at):
            self._access = refresh_access_token(self.integration_id)
        return self._access

    def refreshed(self, rejected: str) -> str | None:
        self._access = refresh_access_token(self.integration_id, rejected=rejected)
        return self._access

    def secrets(self) -> tuple[str, ...]:
        return (self._access, self._refresh)


class UnsavedTokens:
    """The token source of values typed into a form: their access token, never refreshed. A refresh may rotate
    the refresh token, and a test stores nothing, so the rotated one would be lost and the typed one spent."""

    def __init__(self, credentials: dict):
        self._access = credentials.get("accessToken") or ""
        self._refresh = credentials.get("refreshToken") or ""

    def access_token(self) -> str:
        if not self._access:
            raise InvalidGrant(
                "A test before saving uses the access token only (a refresh could replace the refresh token, and a test "
                "stores nothing): add the access token, or save and then check the connection.",
                provider="Google", credential="accessToken",
            )  # fmt: skip
        return self._access

    def refreshed(self, rejected: str) -> None:
        return None

    def secrets(self) -> tuple[str, ...]:
        return (self._access, self._refresh)


def _locked(integration_id: str) -> Integration:
    # Re-read under the lock: whatever a caller we waited for wrote is what we decide on.
    return Integration.objects.select_for_update().get(pk=integration_id)


def refresh_access_token(integration_id: str, *, rejected: str | None = None) -> str:
    """A usable access token for the integration, refreshing it when it is due (or was `rejected` by a 401)
    unless another caller already did; raises `InvalidGrant`/`ReconnectNeeded`, or the call's `ProviderError`."""
    refused = None
    with exclusive_transaction():
        integration = _locked(integration_id)
        credentials = integration.credentials
        current = credentials.get("accessToken") or ""
        if integration.reconnect_needed:
            raise ReconnectNeeded(RECONNECT_DETAIL, provider="Google", credential="refreshToken")
        if current and (current != rejected if rejected else not _due(integration.token_expires_at)):
            return current  # someone refreshed while we waited (or it was never due)
        refresh_token = credentials.get("refreshToken") or ""
        if not refresh_token:
            raise InvalidGrant("The access token needs refreshing and there is no refresh token: add one.",
                               provider="Google", credential="refreshToken")  # fmt: skip
        client = GoogleOAuthClient.configured(refresh_token)
        try:
            answer = client.refresh()
        except InvalidGrant as error:
            _mark_reconnect_needed(integration)
            refused = error  # raised after the marking commits
        else:
            credentials = {**credentials, "accessToken": answer.access_token, "refreshToken": answer.refresh_token or refresh_token}
            integration.credentials = credentials
            integration.credential_fingerprints = {name: fingerprint_for(value) for name, value in credentials.items()}
            integration.token_expires_at = timezone.now() + timedelta(seconds=answer.expires_in) if answer.expires_in else None
            integration.save(update_fields=["credentials", "credential_fingerprints", "token_expires_at"])
            return answer.access_token
    raise refused


def _mark_reconnect_needed(integration: Integration) -> None:
    """Needs reconnection: a failed check saying so, and the event, once (in the caller's transaction)."""
    now = timezone.now()
    changed = Integration.objects.filter(pk=integration.pk, reconnect_needed=False).update(
        reconnect_needed=True, last_check_ok=False, last_checked_at=now, last_check_detail=RECONNECT_DETAIL
    )
    if changed:
        record_event(integration.workspace_id, WorkspaceEventType.INTEGRATION_RECONNECT_NEEDED, {
            "id": integration.pk, "name": integration.name, "type": integration.type, "lastCheckDetail": RECONNECT_DETAIL,
        })  # fmt: skip


