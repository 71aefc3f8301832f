"""Email Log tables API: create the missing Email Log table of every active email integration."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.permissions import IsWorkspaceAdmin

from ..log_tables import ensure_email_log_tables
from .serializers import InitResponseSerializer, InitTableSerializer


class InitEmailLogTablesView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(request=None, responses=InitResponseSerializer, summary="Initialize email log tables for active providers")
    def post(self, request):
        tables = ensure_email_log_tables(request.auth.workspace)
        return Response({"success": True, "tables": InitTableSerializer(tables, many=True).data})
