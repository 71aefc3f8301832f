"""API authentication: bearer tokens for scripts, the Django session (with CSRF) for browsers.

Both put the caller's `Membership` in `request.auth`, so every view knows the workspace the same way.
"""

from rest_framework import authentication, exceptions

from .models import ApiToken
from .services import session_membership, touch_token


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
        token = ApiToken.authenticate(plaintext)
        if token is None:
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
