"""Email API: send one email (source "Workflow Email"), read one with its events, initialise the Email
Log tables, and the workspace's suppression list.
"""

from collections import defaultdict

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.log_tables import ensure_document_log_tables
from tables.models import Column
from tables.serializers import RowSerializer
from workspaces.permissions import IsWorkspaceAdmin, IsWorkspaceMember

from . import suppressions
from .log_tables import ensure_email_log_tables
from .models import EmailLogEntry, EmailSource, EmailStatus, SendFailure, Suppression
from .pagination import SuppressionPages
from .selectors import email_in
from .sending import send_email
from .serializers import (
    AddSuppressionSerializer,
    EmailDetailSerializer,
    InitResponseSerializer,
    InitTableSerializer,
    SendEmailSerializer,
    SuppressionSerializer,
)

_STATUS_FOR = {EmailStatus.DELIVERED: status.HTTP_201_CREATED, EmailStatus.QUEUED: status.HTTP_202_ACCEPTED}
# A failed send answers from why it failed; the provider's refusals and failures (and ours) are a 502.
_REFUSED_WITH = {
    SendFailure.SUPPRESSED: status.HTTP_422_UNPROCESSABLE_ENTITY,
    SendFailure.ERASED: status.HTTP_422_UNPROCESSABLE_ENTITY,
    SendFailure.UNAVAILABLE: status.HTTP_409_CONFLICT,  # as for an integration disabled before the request
    SendFailure.CREDENTIALS: status.HTTP_503_SERVICE_UNAVAILABLE,  # a deploy to fix, as everywhere keys are unreadable
    SendFailure.DOCUMENT: status.HTTP_422_UNPROCESSABLE_ENTITY,  # a document attachment could not be rendered
}
_FailedSend = inline_serializer("FailedSend", {"detail": serializers.CharField(), "row": RowSerializer()})


def entry_rows(entries) -> list[dict]:
    """The rows of `entries` in order, with one query for the columns of all their tables."""
    columns = defaultdict(list)
    for column in Column.objects.filter(table_id__in={entry.table_id for entry in entries}).order_by("position"):
        columns[column.table_id].append(column)
    return [RowSerializer(entry, context={"columns": columns[entry.table_id]}).data for entry in entries]


def entry_row(entry) -> dict:
    return entry_rows([entry])[0]


class SendEmailView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(
        request=SendEmailSerializer,
        responses={
            201: OpenApiResponse(RowSerializer, description="Delivered: the log row."),
            202: OpenApiResponse(RowSerializer, description="Queued for a worker: the log row, status queued."),
            409: OpenApiResponse(description="No usable email provider is configured (or it was disabled before sending)."),
            422: OpenApiResponse(_FailedSend, description="Every recipient is suppressed: not sent; the failed log row."),
            502: OpenApiResponse(_FailedSend, description="The provider refused or failed: the failed log row."),
            503: OpenApiResponse(_FailedSend, description="The integration's key cannot be decrypted: not sent; the failed log row."),
        },
        parameters=[
            OpenApiParameter(
                "Location", str, OpenApiParameter.HEADER, response=[201, 202], description="The email's own view (GET)."
            )
        ],
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
            refused = _REFUSED_WITH.get(entry.failure, status.HTTP_502_BAD_GATEWAY)
            return Response({"detail": entry.error, "row": row}, status=refused)
        location = request.build_absolute_uri(reverse("email-detail", args=[entry.pk]))
        return Response(row, status=_STATUS_FOR[entry.status], headers={"Location": location})


class EmailDetailView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(
        responses={200: EmailDetailSerializer, 404: OpenApiResponse(description="No such email in this workspace.")},
        summary="Get an email with its delivery events",
    )
    def get(self, request, email_id):
        try:
            entry = email_in(request.auth.workspace, email_id)
        except EmailLogEntry.DoesNotExist:
            raise Http404 from None
        return Response(EmailDetailSerializer(entry, context={"columns": list(entry.table.columns.all())}).data)


class InitEmailLogTablesView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(request=None, responses=InitResponseSerializer, summary="Initialize the log tables (Email Log, Document Log) of active integrations")
    def post(self, request):
        # The system tables of every active integration that keeps one: Email Logs, then Document Logs.
        tables = ensure_email_log_tables(request.auth.workspace) + ensure_document_log_tables(request.auth.workspace)
        return Response({"success": True, "tables": InitTableSerializer(tables, many=True).data})


class SuppressionListView(ListAPIView):
    """GET: any member reads the list (`q` searches the address). POST: owners and admins add one."""

    serializer_class = SuppressionSerializer
    pagination_class = SuppressionPages

    def get_permissions(self):
        return [IsWorkspaceAdmin()] if self.request.method == "POST" else [IsWorkspaceMember()]

    def get_queryset(self):
        return suppressions.suppressions_for(self.request.auth.workspace, self.request.query_params.get("q", "")[:320])

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="Part of an address (case-insensitive).")],
        summary="List the workspace's suppressed addresses, newest first",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=AddSuppressionSerializer,
        responses={
            201: OpenApiResponse(SuppressionSerializer, description="Suppressed (reason manual)."),
            200: OpenApiResponse(SuppressionSerializer, description="Already suppressed: the existing one, unchanged."),
        },
        summary="Suppress an address",
    )
    def post(self, request):
        serializer = AddSuppressionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        suppression, created = suppressions.add_suppression(
            request.auth.workspace, serializer.validated_data["address"], actor=request.user
        )
        return Response(
            SuppressionSerializer(suppression).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class SuppressionDetailView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(
        responses={204: None, 404: OpenApiResponse(description="The address is not suppressed in this workspace.")},
        summary="Send to a suppressed address again",
    )
    def delete(self, request, address):
        try:
            suppressions.remove_suppression(request.auth.workspace, address, actor=request.user)
        except Suppression.DoesNotExist:
            raise Http404 from None
        return Response(status=status.HTTP_204_NO_CONTENT)
