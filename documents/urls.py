from django.urls import re_path

from . import views

urlpatterns = [
    re_path(
        r"^api/integrations/document-engine/templates/?$", views.DocumentTemplateListView.as_view(), name="document-engine-templates"
    ),
    re_path(r"^api/documents/?$", views.RenderDocumentView.as_view(), name="document-render"),
    re_path(r"^api/documents/(?P<document_id>[^/]+)/file/?$", views.DocumentFileView.as_view(), name="document-file"),
    re_path(r"^api/documents/(?P<document_id>[^/]+)/?$", views.DocumentDetailView.as_view(), name="document-detail"),
]
