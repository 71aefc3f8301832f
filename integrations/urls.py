from django.urls import re_path

from . import views
from .providers import PROVIDERS

# Paths as the seed writes them; the optional trailing slash must not break them.
urlpatterns = [
    re_path(r"^api/integrations/?$", views.IntegrationListView.as_view(), name="integration-list"),
    re_path(r"^api/integrations/stats/?$", views.IntegrationStatsView.as_view(), name="integration-stats"),
    re_path(r"^api/integrations/check/?$", views.UnsavedIntegrationCheckView.as_view(), name="integration-check-unsaved"),
    *(
        re_path(
            rf"^api/integrations/{provider.slug}/templates/?$",
            views.EmailTemplateListView.as_view(integration_type=provider.type),
            name=f"{provider.slug}-templates",
        )
        for provider in PROVIDERS
    ),
    re_path(
        r"^api/integrations/(?P<integration_id>[^/]+)/check/?$", views.IntegrationCheckView.as_view(), name="integration-check"
    ),
    re_path(
        r"^api/integrations/(?P<integration_id>[^/]+)/audit/?$", views.IntegrationAuditView.as_view(), name="integration-audit"
    ),
    re_path(r"^api/integrations/(?P<integration_id>[^/]+)/?$", views.IntegrationDetailView.as_view(), name="integration-detail"),
]
