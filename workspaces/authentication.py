"""API authentication: bearer tokens for scripts, the Django session (with CSRF) for browsers.

Both put the caller's `Membership` in `request.auth`, so every view knows the workspace the same way.
"""

from django.conf import settings
from rest_framework import authentication, exceptions

from opbox import ratelimit

from .models import TOKEN_PREFIX, ApiToken
from .services import session_membership, touch_token


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
        waits = [wait for limit, subject in limits if (wait := ratelimit.retry_after(limit, subject))]
        if waits:
            raise exceptions.Throttled(wait=max(waits), detail="Too many failed authentications; try again later.")
        token = ApiToken.authenticate(plaintext)
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
