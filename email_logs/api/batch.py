"""Bulk intake: `POST /api/emails/batch`, 1 to 1,000 emails (source "Workflow Email") in one request."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.permissions import IsWorkspaceMember

from ..models import EmailSource, EmailStatus
from ..sending.intake import InvalidEmails, send_emails
from .emails import entry_rows
from .serializers import SendEmailBatchResultSerializer, SendEmailBatchSerializer


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
