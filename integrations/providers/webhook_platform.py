"""WEBHOOK_PLATFORM: a Zapier Catch Hook or a Make custom webhook at config `webhookUrl`, posted the workspace
events' JSON body unsigned (those platforms verify nothing; the URL itself is the secret)."""

from .client import CheckResult
from .exceptions import ProviderRejected
from .standard_webhooks import TEST_EVENT, EventPoster


class PlatformWebhookPoster(EventPoster):
    provider_name = "the webhook platform"
    authenticates = False
    url_field = "webhookUrl"
    check_proves = "The catch hook answers 2xx to an unsigned webhook.test event."

    def _error_class(self, status, code):
        # No credential is sent, so a 401/403 is the hook refusing the request, not a rejected secret.
        return ProviderRejected if status in (401, 403) else super()._error_class(status, code)

    def check(self) -> CheckResult:
        response = self._post_test_event()
        detail = f"{self.provider_name} accepted a {TEST_EVENT} event (HTTP {response.status_code})"
        if self.provider_name.endswith("zapier.com"):
            # Zapier answers 200 even while the Zap is off: a pass proves the URL, not that the Zap runs.
            detail += "; Zapier answers so even for a Zap that is off, so check that the Zap is on"
        return CheckResult(detail + ".")
