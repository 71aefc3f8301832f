from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path
from django.views.defaults import page_not_found
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .health import healthz, readyz

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Our own page around Swagger UI: its setup is a static script (no inline script under the CSP).
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema", template_name="api_docs.html"), name="api-docs"),
    path("", include("workspaces.urls")),
    path("", include("documents.urls")),  # before integrations: /api/integrations/document-engine/templates
    path("", include("integrations.urls")),
    path("", include("deliveries.urls")),
    path("", include("email_logs.api.urls")),  # before tables: /api/tables/integration/init
    path("", include("tables.urls")),
    # Pages for people (server-rendered).
    path("", RedirectView.as_view(pattern_name="tables:index"), name="home"),
    path("", include("workspaces.page_urls")),
    path("", include("tables.page_urls")),
    path("", include("integrations.page_urls")),
    path("", include("email_logs.page_urls")),
    path("", include("documents.page_urls")),
    path("", include("deliveries.page_urls")),
]


def api_aware_404(request, exception=None):
    """JSON for API clients, Django's page for people."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return page_not_found(request, exception)


handler404 = api_aware_404
