"""Documents API (SPEC §14): the engine's templates, rendering one document, reading it, downloading its bytes.
Any member of the workspace; another workspace's document is a 404."""

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.serializers import EmailTemplateListSerializer
from workspaces.permissions import IsWorkspaceMember

from .log_tables import document_log_columns
from .models import CONTENT_TYPES, Document
from .rendering import DocumentFailed, list_document_templates, open_document, render_document
from .selectors import document_in
from .serializers import DocumentSerializer, FailedDocumentSerializer, RenderDocumentSerializer


def document_data(document: Document, request) -> dict:
    columns = list(document.table.columns.all())
    return DocumentSerializer(document, context={"columns": columns, "request": request}).data


def new_document_data(document: Document, request) -> dict:
    """A document just written: its table's columns are the Document Log's, known without reading them."""
    return DocumentSerializer(document, context={"columns": document_log_columns(), "request": request}).data


def _document_or_404(request, document_id) -> Document:
    try:
        return document_in(request.auth.workspace, document_id)
    except Document.DoesNotExist:
        raise Http404 from None


class DocumentTemplateListView(APIView):
    """The document engine's templates, every page."""

    permission_classes = [IsWorkspaceMember]

    @extend_schema(
        responses={
            200: EmailTemplateListSerializer,
            409: OpenApiResponse(description="No enabled DOCUMENT_ENGINE integration with an apiKey."),
            502: OpenApiResponse(description="Carbone rejected the stored key, failed, or answered nonsense."),
            504: OpenApiResponse(description="Carbone did not answer within the timeout."),
        },
        summary="List document engine templates",
    )
    def get(self, request):
        templates = list_document_templates(request.auth.workspace)
        return Response(EmailTemplateListSerializer({"templates": templates}).data)


class RenderDocumentView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(
        request=RenderDocumentSerializer,
        responses={
            201: DocumentSerializer,
            409: OpenApiResponse(description="No enabled DOCUMENT_ENGINE integration with an apiKey."),
            422: OpenApiResponse(FailedDocumentSerializer, description="Carbone refused the template or data, or the file is too large."),
            502: OpenApiResponse(FailedDocumentSerializer, description="Carbone rejected the stored key or failed."),
            504: OpenApiResponse(FailedDocumentSerializer, description="Carbone did not answer within the timeout."),
        },
        summary="Render a document from a template",
    )
    def post(self, request):
        serializer = RenderDocumentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        workspace = request.auth.workspace
        try:
            document = render_document(
                workspace, serializer.render_request(), integration_id=serializer.validated_data["integrationId"] or None
            )
        except DocumentFailed as failure:
            return Response({"detail": failure.detail, "row": new_document_data(failure.document, request)}, status=failure.http_status)
        headers = {"Location": reverse("document-detail", args=[document.pk])}
        return Response(new_document_data(document, request), status=status.HTTP_201_CREATED, headers=headers)


class DocumentDetailView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(responses=DocumentSerializer, summary="Get a document's row and download URL")
    def get(self, request, document_id):
        return Response(document_data(_document_or_404(request, document_id), request))


class AnyAccept(BaseContentNegotiation):
    """A download answers its file whatever the client accepts (errors are still JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class DocumentFileView(APIView):
    permission_classes = [IsWorkspaceMember]
    content_negotiation_class = AnyAccept

    @extend_schema(
        responses={(200, content_type): OpenApiTypes.BINARY for content_type in CONTENT_TYPES.values()},
        summary="Download a document's file (its format's Content-Type, as an attachment)",
    )
    def get(self, request, document_id):
        document = _document_or_404(request, document_id)
        if not document.storage_name:
            raise Http404("This document failed: nothing was stored.")
        # Streamed from storage a block at a time; always an attachment (an HTML document never renders here).
        return FileResponse(
            open_document(document), as_attachment=True, filename=document.filename, content_type=document.content_type
        )
