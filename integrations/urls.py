from django.urls import re_path

from . import views
from .types import IntegrationType

# Paths as the seed writes them; the optional trailing slash must not break them.
urlpatterns = [
    re_path(r"^api/integrations/?$", views.IntegrationListView.as_view(), name="integration-list"),
    re_path(r"^api/integrations/stats/?$", views.IntegrationStatsView.as_view(), name="integration-stats"),
    re_path(
        r"^api/integrations/email-provider-a/templates/?$",
        views.EmailTemplateListView.as_view(integration_type=IntegrationType.EMAIL_PROVIDER),
        name="email-provider-a-templates",
    ),
    re_path(
        r"^api/integrations/email-provider-b/templates/?$",
        views.EmailTemplateListView.as_view(integration_type=IntegrationType.EMAIL_PROVIDER_ALT),
        name="email-provider-b-templates",
    ),
    re_path(
        r"^api/integrations/(?P<integration_id>[^/]+)/audit/?$", views.IntegrationAuditView.as_view(), name="integration-audit"
    ),
    re_path(r"^api/integrations/(?P<integration_id>[^/]+)/?$", views.IntegrationDetailView.as_view(), name="integration-detail"),
]
