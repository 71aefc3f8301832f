from django.urls import path

from . import pages

app_name = "integration-settings"

urlpatterns = [
    path("settings/integrations/", pages.IntegrationListPage.as_view(), name="list"),
    path("settings/integrations/new/", pages.IntegrationCreatePage.as_view(), name="create"),
    path("settings/integrations/new/test/", pages.IntegrationTestNewPage.as_view(), name="test-new"),
    path("settings/integrations/<str:integration_id>/", pages.IntegrationEditPage.as_view(), name="edit"),
    path("settings/integrations/<str:integration_id>/delete/", pages.IntegrationDeletePage.as_view(), name="delete"),
    path("settings/integrations/<str:integration_id>/test/", pages.IntegrationTestPage.as_view(), name="test"),
    path("settings/integrations/<str:integration_id>/enabled/", pages.IntegrationEnablePage.as_view(), name="enabled"),
    path(
        "settings/integrations/<str:integration_id>/site-email-provider/",
        pages.SiteEmailProviderPage.as_view(),
        name="site-email-provider",
    ),
    path(
        "settings/integrations/<str:integration_id>/check-connection/",
        pages.CheckConnectionPage.as_view(),
        name="check-connection",
    ),
]
