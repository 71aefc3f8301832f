from django.urls import re_path

from . import views

# Paths as the seed writes them; the optional trailing slash must not break them.
urlpatterns = [
    re_path(r"^api/integrations/?$", views.IntegrationListView.as_view(), name="integration-list"),
    re_path(r"^api/integrations/stats/?$", views.IntegrationStatsView.as_view(), name="integration-stats"),
    re_path(r"^api/integrations/(?P<integration_id>[^/]+)/?$", views.IntegrationDetailView.as_view(), name="integration-detail"),
]
