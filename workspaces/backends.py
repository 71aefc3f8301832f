"""Login by email, limited: after too many failures for an account or from an address, even the right
password is refused until the window passes, and the login view answers 429 (see middleware)."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from opbox import ratelimit


def _login_limits(request, email: str):
    window = settings.AUTH_FAILURE_WINDOW
    per_address = ratelimit.Limit("login-address", settings.AUTH_FAILURES_PER_ADDRESS, window)
    per_account = ratelimit.Limit("login-account", settings.AUTH_FAILURES_PER_ACCOUNT, window)
    subjects = [(per_account, (email or "").strip().lower())]
    if request is not None:
        subjects.append((per_address, ratelimit.client_address(request)))
    return subjects


class RateLimitedEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        email = username or kwargs.get("email") or ""
        limits = _login_limits(request, email)
        wait = ratelimit.retry_after(limits)
        if wait is not None:
            if request is not None:
                request.login_retry_after = wait
            raise PermissionDenied  # stops every backend: the password is not even checked
        user = super().authenticate(request, username=email, password=password, **kwargs)
        if user is None:
            for limit, subject in limits:
                ratelimit.record_failure(limit, subject)
        return user
