"""Email API: send one email or a batch of up to 1,000 (source "Workflow Email"), and read one with its events."""

from collections import defaultdict

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from tables.models import Column
from tables.serializers import RowSerializer
from workspaces.permissions import IsWorkspaceMember

from ..models import EmailLogEntry, EmailSource, EmailStatus, SendFailure
from ..selectors import email_in
from ..sending.intake import InvalidEmails, send_email, send_emails
from .serializers import EmailDetailSerializer, SendEmailBatchResultSerializer, SendEmailBatchSerializer, SendEmailSerializer

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


class SendEmailBatchView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(
        request=SendEmailBatchSerializer,
        responses={
            200: OpenApiResponse(SendEmailBatchResultSerializer, description="Sent inline: each email's final row, in order."),
            202: OpenApiResponse(SendEmailBatchResultSerializer, description="Queued for the workers: the rows, in order."),
            400: OpenApiResponse(description='Invalid emails, by index: {"emails": {"3": {"to": [...]}}}; nothing written.'),
            409: OpenApiResponse(description="No usable email provider is configured."),
        },
        summary="Send up to 1,000 emails and log each",
    )
    def post(self, request):
        serializer = SendEmailBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            entries = send_emails(
                request.auth.workspace,
                serializer.messages(),
                source=EmailSource.WORKFLOW_EMAIL,
                integration_id=serializer.integration_ids(),
            )
        except InvalidEmails as error:
            raise ValidationError({"emails": {str(index): errors for index, errors in error.by_index.items()}}) from None
        queued = any(entry.status == EmailStatus.QUEUED for entry in entries)
        return Response({"results": entry_rows(entries)}, status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK)


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
