"""Email API: send one email (source "Workflow Email") and initialise the Email Log tables."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from tables.serializers import RowSerializer
from workspaces.permissions import IsWorkspaceAdmin, IsWorkspaceMember

from .log_tables import ensure_email_log_tables
from .sending import send_email
from .models import EmailSource, EmailStatus
from .serializers import InitResponseSerializer, InitTableSerializer, SendEmailSerializer

_STATUS_FOR = {EmailStatus.DELIVERED: status.HTTP_201_CREATED, EmailStatus.QUEUED: status.HTTP_202_ACCEPTED}


def entry_row(entry) -> dict:
    return RowSerializer(entry, context={"columns": list(entry.table.columns.all())}).data


class SendEmailView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(
        request=SendEmailSerializer,
        responses={
            201: OpenApiResponse(RowSerializer, description="Delivered: the log row."),
            202: OpenApiResponse(RowSerializer, description="Queued for a worker: the log row, status queued."),
            409: OpenApiResponse(description="No usable email provider is configured."),
            502: OpenApiResponse(
                inline_serializer("FailedSend", {"detail": serializers.CharField(), "row": RowSerializer()}),
                description="The provider refused or failed: the failed log row.",
            ),
        },
        summary="Send an email and log it",
    )
    def post(self, request):
        serializer = SendEmailSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = send_email(
            request.auth.workspace,
            serializer.message(),
            source=EmailSource.WORKFLOW_EMAIL,
            integration_id=serializer.validated_data["integrationId"] or None,
        )
        row = entry_row(entry)
        if entry.status == EmailStatus.FAILED:
            return Response({"detail": entry.error, "row": row}, status=status.HTTP_502_BAD_GATEWAY)
        return Response(row, status=_STATUS_FOR[entry.status])


class InitEmailLogTablesView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(request=None, responses=InitResponseSerializer, summary="Initialize email log tables for active providers")
    def post(self, request):
        tables = ensure_email_log_tables(request.auth.workspace)
        return Response({"success": True, "tables": InitTableSerializer(tables, many=True).data})
