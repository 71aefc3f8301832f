from django.urls import path

from . import pages

app_name = "documents"

urlpatterns = [
    path("settings/integrations/<str:integration_id>/test-document/", pages.TestDocumentPage.as_view(), name="test-document"),
    path("tables/<str:table_id>/documents/<str:document_id>/", pages.DocumentPage.as_view(), name="document"),
    path("documents/<str:document_id>/download/", pages.DocumentDownloadPage.as_view(), name="download"),
]
