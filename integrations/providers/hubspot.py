"""CRM_PLATFORM: HubSpot, with a private app's access token, at HUBSPOT_API_URL.

Errors are `{"status": "error", "message", "correlationId", "category"}`; a 429 names its policy (`SECONDLY`, or
`DAILY`, a quota that waiting seconds will not lift).
"""

import re
from email.utils import getaddresses
from urllib.parse import quote

from .client import CheckResult, ServiceClient
from .events import email_values
from .exceptions import MissingSetting, ProviderAuthError, ProviderError, ProviderQuotaExceeded, ProviderRateLimited

EMAIL_TO_CONTACT = 198  # HUBSPOT_DEFINED association type: email -> contact
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


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
    default_events = ("email.sent",)

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

    def deliver(self, events) -> str:
        """Log a sent email on its To recipients' contacts (each found, or created): one email engagement
        associated to them all. The contacts come first, since finding or creating one again is harmless: a
        429 halfway through them leaves nothing logged, so the retry logs the email once."""
        (event,) = events
        values = email_values(event)
        recipients = [address for _, address in getaddresses([values.get("To") or ""]) if address]
        if not recipients:
            raise self._error(ProviderError, "The email has no To recipient to log on a HubSpot contact.")
        properties = {
            "hs_timestamp": values.get("Sent At") or event.timestamp.isoformat(),
            "hs_email_direction": "EMAIL",
            "hs_email_status": "SENT",
            "hs_email_subject": values.get("Subject") or "",
            "hs_email_text": f"Sent from Opbox (email {event.data.get('id', '')}). {event.link}".strip(),
        }
        contact_ids = list(dict.fromkeys(self._contact_id(address) for address in recipients))
        associations = [
            {"to": {"id": contact_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": EMAIL_TO_CONTACT}]}
            for contact_id in contact_ids
        ]
        response = self._request("POST", "/crm/v3/objects/emails", json={"properties": properties, "associations": associations})
        return str(response.status_code)

    def _contact_id_in(self, contact: dict) -> str:
        contact_id = contact.get("id")
        if isinstance(contact_id, bool) or not isinstance(contact_id, str | int) or contact_id == "":
            raise self._bad_response("a contact without an id")
        return str(contact_id)

    def _contact_id(self, address: str) -> str:
        """The id of the contact with this email address: looked up, or created (a 409 names the existing one)."""
        try:
            found = self._json(self._request("GET", f"/crm/v3/objects/contacts/{quote(address, safe='@')}", params={"idProperty": "email"}))
            return self._contact_id_in(found)
        except ProviderError as error:
            if error.status_code != 404:
                raise
        try:
            created = self._json(self._request("POST", "/crm/v3/objects/contacts", json={"properties": {"email": address}}))
            return self._contact_id_in(created)
        except ProviderError as error:
            existing = _EXISTING_ID.search(str(error)) if error.status_code == 409 else None
            if existing is None:
                raise
            return existing.group(1)
