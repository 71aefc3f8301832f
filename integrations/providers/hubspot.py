"""CRM_PLATFORM: HubSpot, with a private app's access token, at HUBSPOT_API_URL.

Errors are `{"status": "error", "message", "correlationId", "category"}`; a 429 names its policy (`SECONDLY`, or
`DAILY`, a quota that waiting seconds will not lift).
"""

from .client import CheckResult, ServiceClient
from .exceptions import MissingSetting, ProviderAuthError, ProviderQuotaExceeded, ProviderRateLimited


class HubSpotClient(ServiceClient):
    provider_name = "HubSpot"
    credential_name = "accessToken"
    credential_label = "access token"
    error_codes = {
        "INVALID_AUTHENTICATION": ProviderAuthError,
        "EXPIRED_AUTHENTICATION": ProviderAuthError,
        "MISSING_SCOPES": ProviderAuthError,
        "RATE_LIMITS": ProviderRateLimited,
        "DAILY": ProviderQuotaExceeded,
    }
    check_proves = "HubSpot accepts the access token, and the token belongs to the configured portal."

    def __init__(self, *args, portal_id: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.portal_id = portal_id.strip()

    @classmethod
    def from_values(cls, config, credentials, *, service_url, timeout, identity, unsaved=False, tokens=None):
        if not credentials.get("accessToken"):
            raise MissingSetting(f"The CRM integration {identity['name']!r} has no accessToken: add one first.")
        return cls(credentials["accessToken"], base_url=service_url, timeout=timeout, unsaved=unsaved,
                   portal_id=config.get("portalId") or "")  # fmt: skip

    def _error_details(self, payload, response):
        if not isinstance(payload, dict):
            return "", ""
        # A daily quota's 429 says so in its policy; a per-second one is a plain rate limit.
        code = payload.get("policyName") if payload.get("policyName") == "DAILY" else payload.get("category")
        return str(code or ""), str(payload.get("message") or "")

    def check(self) -> CheckResult:
        """`GET /account-info/v3/details` answers 200 with the token's `portalId`, which must be the configured one."""
        details = self._json(self._request("GET", "/account-info/v3/details"))
        portal = details.get("portalId")
        if isinstance(portal, bool) or not isinstance(portal, int):
            raise self._bad_response("account details without a numeric portalId")
        if self.portal_id and self.portal_id != str(portal):
            raise self._resource_error(
                f"HubSpot says this token belongs to portal {portal}, not to the configured portal {self.portal_id}: "
                f"use a private app token of portal {self.portal_id}, or set portalId to {portal}."
            )
        pin = "" if self.portal_id else f"; set portalId to {portal} to pin it"
        return CheckResult(f"The access token works for HubSpot portal {portal}{pin}.")
