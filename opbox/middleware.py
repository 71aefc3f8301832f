import functools
import re
import uuid
from urllib.parse import unquote

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import BadRequest
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import JsonResponse
from django.views.defaults import bad_request

from .logging import request_id_var

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Tags every log line of a request with an id (the load balancer's X-Request-ID, or a new one)
    and returns it in the X-Request-ID response header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class RequestBodyLimitMiddleware:
    """Refuses a declared body over MAX_REQUEST_BODY_BYTES with 413 before reading any of it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return JsonResponse(
                {"detail": f"Request body too large: at most {settings.MAX_REQUEST_BODY_BYTES} bytes."}, status=413
            )
        return self.get_response(request)


class LoginThrottleMiddleware:
    """Turns a login refused by the rate limit (see workspaces.backends) into 429 with Retry-After."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        retry_after = getattr(request, "login_retry_after", None)
        if retry_after is None:
            return response
        if request.path.startswith("/api/"):
            throttled = JsonResponse({"detail": "Too many failed logins; try again later."}, status=429)
        else:
            response.status_code = 429
            throttled = response  # the login page again, with its error, under a 429
        throttled["Retry-After"] = str(retry_after)
        return throttled


class RejectNulMiddleware:
    """A NUL character in the path or the query string is a 400 before any view runs.

    No id, address or search term contains one, and PostgreSQL refuses NUL in text: a view passing it to a
    query would answer 500. One check here instead of one in every view.
    """

    detail = "NUL characters are not allowed in a URL."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info or "\x00" in unquote(request.META.get("QUERY_STRING", "")):
            if request.path_info.startswith("/api/"):
                return JsonResponse({"detail": self.detail}, status=400)
            return bad_request(request, BadRequest(self.detail))
        return self.get_response(request)


# What makes one response's policy differ from the settings' (django-csp's decorators set these).
_PER_RESPONSE_POLICY = ("_csp_config", "_csp_update", "_csp_replace", "_csp_exempt")
_PER_RESPONSE_POLICY += tuple(f"{name}_ro" for name in _PER_RESPONSE_POLICY)


@functools.cache
def _settings_policy() -> tuple[tuple[tuple[str, str], ...], bool]:
    """The (header, value) of each policy the settings configure, built by django-csp, and whether either
    policy excludes URL prefixes."""
    headers = ((HEADER, build_policy()), (HEADER_REPORT_ONLY, build_policy(report_only=True)))
    policies = (
        getattr(settings, name, None) or {} for name in ("CONTENT_SECURITY_POLICY", "CONTENT_SECURITY_POLICY_REPORT_ONLY")
    )
    return tuple((header, value) for header, value in headers if value), any(p.get("EXCLUDE_URL_PREFIXES") for p in policies)


@receiver(setting_changed)
def _forget_settings_policy(setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _settings_policy.cache_clear()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the settings' policy built once per process instead of per response.

    django-csp builds the same header from the settings on every response: about 50 µs, a fifth of the
    cheapest request's time. A response that changes its policy (django-csp's decorators), a request that
    drew a nonce, excluded URL prefixes and DEBUG's error pages all take django-csp's own path.
    """

    def process_response(self, request, response):
        headers, excludes_prefixes = _settings_policy()
        if (
            settings.DEBUG
            or excludes_prefixes
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE_POLICY)
        ):
            return super().process_response(request, response)
        for header, value in headers:
            if header not in response:
                response[header] = value
        # As django-csp does: a nonce drawn after the header is written raises instead of going unused.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
