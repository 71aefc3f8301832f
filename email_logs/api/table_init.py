"""Log tables API: create the missing Email Log table of every active email integration, and the missing Document
Log of every active document engine."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.log_tables import ensure_document_log_tables
from workspaces.permissions import IsWorkspaceAdmin

from ..log_tables import ensure_email_log_tables
from .serializers import InitResponseSerializer, InitTableSerializer


class InitEmailLogTablesView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(request=None, responses=InitResponseSerializer, summary="Initialize the log tables (Email Log, Document Log) of active integrations")
    def post(self, request):
        # The system tables of every active integration that keeps one: Email Logs, then Document Logs.
        tables = ensure_email_log_tables(request.auth.workspace) + ensure_document_log_tables(request.auth.workspace)
        return Response({"success": True, "tables": InitTableSerializer(tables, many=True).data})
