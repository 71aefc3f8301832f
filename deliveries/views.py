"""Deliveries API: parse, call a service, render."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from opbox.api import TimestampField
from workspaces.permissions import IsWorkspaceAdmin

from . import services
from .models import Delivery


class DeliverySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The webhook-id receivers see, the same on every attempt.")
    integrationId = serializers.CharField(source="integration_id")
    eventId = serializers.CharField(source="event_id")
    event = serializers.CharField(source="event_type")
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    response = serializers.CharField()
    error = serializers.CharField()
    nextAttemptAt = TimestampField(source="next_attempt_at", allow_null=True)
    emailId = serializers.CharField(source="email_id")
    createdAt = TimestampField(source="created_at")


class RedeliverView(APIView):
    """Deliver one delivery again, under the same webhook-id (owners and admins)."""

    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(
        request=inline_serializer("RedeliverRequest", {}),
        responses={
            202: DeliverySerializer,
            404: OpenApiResponse(description="No such delivery in the caller's workspace."),
            409: OpenApiResponse(description="The delivery's integration is disabled (enable it first), or an attempt at it is in progress."),
        },
        summary="Redeliver a delivery (the same webhook-id, the retry schedule from the start)", operation_id="deliveries_redeliver",
    )  # fmt: skip
    def post(self, request, delivery_id):
        try:
            delivery = services.delivery_in(request.auth.workspace, delivery_id)
        except Delivery.DoesNotExist:
            raise Http404("No such delivery in this workspace.") from None
        delivery = services.redeliver(delivery)
        return Response(DeliverySerializer(delivery).data, status=202)
