from django.urls import path

from . import pages

app_name = "emails"

urlpatterns = [
    path("settings/integrations/<str:integration_id>/test-email/", pages.SendTestEmailPage.as_view(), name="test-email"),
    path("tables/<str:table_id>/rows/<str:row_id>/", pages.EmailPage.as_view(), name="email"),
    path("settings/suppressions/", pages.SuppressionListPage.as_view(), name="suppressions"),
    path("settings/suppressions/add/", pages.AddSuppressionPage.as_view(), name="suppression-add"),
    # `path`: an address may hold a `/`.
    path("settings/suppressions/<path:address>/remove/", pages.RemoveSuppressionPage.as_view(), name="suppression-remove"),
]
