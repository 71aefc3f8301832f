"""API authentication: bearer tokens for scripts, the Django session (with CSRF) for browsers.

Both put the caller's `Membership` in `request.auth`, so every view knows the workspace the same way.
"""

import hmac

from django.conf import settings
from rest_framework import authentication, exceptions

from opbox import ratelimit
from opbox.sql import CompiledQuery, instance_from_row, model_fields

from .models import LOOKUP_LENGTH, TOKEN_PREFIX, ApiToken, Membership, User, Workspace, token_digest
from .services import session_membership, touch_token

_TOKEN_FIELDS = model_fields(ApiToken, {"id", "digest", "last_used_at"})
_MEMBERSHIP_FIELDS = model_fields(Membership)
_USER_FIELDS = model_fields(User, {"id", "email", "is_active"})
_WORKSPACE_FIELDS = model_fields(Workspace)

# One indexed query per request, compiled once per process: the active token with its membership, its
# (active) user and its workspace, and only the columns a request reads. Nothing is cached between
# requests, so a revoked token or a deactivated user is refused on the very next request.
_TOKEN_QUERY = CompiledQuery(
    lambda lookup: ApiToken.objects.active()
    .filter(lookup=lookup, membership__user__is_active=True)
    .values_list(
        *_TOKEN_FIELDS,
        *(f"membership__{name}" for name in _MEMBERSHIP_FIELDS),
        *(f"membership__user__{name}" for name in _USER_FIELDS),
        *(f"membership__workspace__{name}" for name in _WORKSPACE_FIELDS),
    )
)


def token_for(plaintext: str) -> ApiToken | None:
    """The active token matching `plaintext` (compared in constant time) of an active user, with its
    membership, user and workspace attached, or None."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) < len(TOKEN_PREFIX) + LOOKUP_LENGTH:
        return None
    rows = _TOKEN_QUERY.rows(plaintext[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + LOOKUP_LENGTH])
    if not rows or not hmac.compare_digest(rows[0][1], token_digest(plaintext)):
        return None
    values = iter(rows[0])
    token, membership, user, workspace = (
        instance_from_row(model, names, [next(values) for _ in names])
        for model, names in (
            (ApiToken, _TOKEN_FIELDS), (Membership, _MEMBERSHIP_FIELDS), (User, _USER_FIELDS), (Workspace, _WORKSPACE_FIELDS)
        )
    )  # fmt: skip
    membership.user, membership.workspace = user, workspace
    token.membership = membership
    return token


def _token_limits(request, plaintext: str):
    """Failed token checks are limited per client address and per token (its public lookup part)."""
    per_address = ratelimit.Limit("token-address", settings.AUTH_FAILURES_PER_ADDRESS, settings.AUTH_FAILURE_WINDOW)
    per_token = ratelimit.Limit("token-lookup", settings.AUTH_FAILURES_PER_ACCOUNT, settings.AUTH_FAILURE_WINDOW)
    return [(per_address, ratelimit.client_address(request)), (per_token, plaintext[: len(TOKEN_PREFIX) + 12])]


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid Authorization header: expected 'Bearer <token>'.")
        try:
            plaintext = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        limits = _token_limits(request, plaintext)
        wait = ratelimit.retry_after(limits)
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="Too many failed authentications; try again later.")
        token = token_for(plaintext)
        if token is None:
            for limit, subject in limits:
                ratelimit.record_failure(limit, subject)
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        touch_token(token)
        return token.membership.user, token.membership

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class WorkspaceSessionAuthentication(authentication.SessionAuthentication):
    """Django session login (CSRF enforced), scoped to the workspace kept in the session."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, _ = result
        # A logged-in user with no workspace is authenticated but may do nothing: permissions answer 403.
        return user, session_membership(request._request)
