from django.urls import re_path

from integrations.providers import PROVIDERS

from . import emails, privacy, suppression_list, table_init, webhooks

urlpatterns = [
    re_path(r"^api/emails/?$", emails.SendEmailView.as_view(), name="email-send"),
    # Before the email detail route, whose pattern would take "batch" for an email id.
    re_path(r"^api/emails/batch/?$", emails.SendEmailBatchView.as_view(), name="email-send-batch"),
    re_path(r"^api/emails/(?P<email_id>[^/]+)/?$", emails.EmailDetailView.as_view(), name="email-detail"),
    re_path(r"^api/suppressions/?$", suppression_list.SuppressionListView.as_view(), name="suppression-list"),
    # An address may hold a `/` (RFC 5322 allows it in the local part): everything, line breaks included (a
    # bad address is the view's 404, after authentication), up to an optional final slash.
    re_path(r"^api/suppressions/(?P<address>[\s\S]+?)/?$", suppression_list.SuppressionDetailView.as_view(), name="suppression-detail"),
    re_path(r"^api/tables/integration/init/?$", table_init.InitEmailLogTablesView.as_view(), name="email-log-init"),
    re_path(r"^api/privacy/erase/?$", privacy.EraseAddressView.as_view(), name="privacy-erase"),
    # The providers' signed webhooks, one receiver per provider (authenticated by signature, not token).
    *(
        re_path(
            rf"^api/webhooks/{provider.slug}/(?P<integration_id>[^/]+)/?$",
            webhooks.ProviderWebhookView.as_view(provider=provider),
            name=provider.webhook_route,
        )
        for provider in PROVIDERS
    ),
]
