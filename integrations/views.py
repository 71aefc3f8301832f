"""Integrations API: parse, call a service, render. Rules live in services.py.

The list and detail answers are plain dicts (serializers.integration_data / integration_detail_data):
the serializers named in `extend_schema` document the same shapes, and a test holds the two equal.
"""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.permissions import IsWorkspaceAdmin, IsWorkspaceMember

from . import connection_checks, services
from .models import Integration
from .serializers import (
    AuditEventSerializer,
    ConnectionCheckSerializer,
    EmailTemplateListSerializer,
    IntegrationCreateSerializer,
    IntegrationDetailSerializer,
    IntegrationSerializer,
    IntegrationStatsSerializer,
    IntegrationUpdateSerializer,
    check_data,
    integration_data,
    integration_detail_data,
)


class PermissionByMethodMixin:
    """Declares permissions per HTTP method: {"GET": [IsWorkspaceMember], "POST": [IsWorkspaceAdmin]}."""

    permissions_by_method: dict = {}

    def get_permissions(self):
        classes = self.permissions_by_method.get(self.request.method, self.permission_classes)
        return [permission() for permission in classes]


def _integration_or_404(request, integration_id) -> Integration:
    try:
        return services.integration_in(request.auth.workspace, integration_id)
    except Integration.DoesNotExist:
        raise Http404 from None


class IntegrationListView(PermissionByMethodMixin, APIView):
    permissions_by_method = {"GET": [IsWorkspaceMember], "POST": [IsWorkspaceAdmin]}

    @extend_schema(responses=IntegrationSerializer(many=True), summary="List all integrations")
    def get(self, request):
        return Response([integration_data(row) for row in services.integration_rows(request.auth.workspace)])

    @extend_schema(request=IntegrationCreateSerializer, responses={201: IntegrationDetailSerializer}, summary="Create an integration")
    def post(self, request):
        serializer = IntegrationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = services.create_integration(
            request.auth.workspace, actor=request.user, **serializer.create_arguments()
        )
        return Response(integration_detail_data(integration, request), status=status.HTTP_201_CREATED)


class IntegrationDetailView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(responses=IntegrationDetailSerializer, summary="Get integration details")
    def get(self, request, integration_id):
        return Response(integration_detail_data(_integration_or_404(request, integration_id), request))

    @extend_schema(request=IntegrationUpdateSerializer, responses=IntegrationDetailSerializer, summary="Update an integration")
    def patch(self, request, integration_id):
        integration = _integration_or_404(request, integration_id)
        serializer = IntegrationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = services.update_integration(integration, actor=request.user, **serializer.update_arguments())
        return Response(integration_detail_data(integration, request))

    @extend_schema(responses={204: None}, summary="Delete an integration")
    def delete(self, request, integration_id):
        services.delete_integration(_integration_or_404(request, integration_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IntegrationAuditView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(responses=AuditEventSerializer(many=True), summary="Get an integration's audit trail")
    def get(self, request, integration_id):
        integration = _integration_or_404(request, integration_id)
        return Response(AuditEventSerializer(services.audit_trail(integration), many=True).data)


_CHECK_FAILURES = {
    409: OpenApiResponse(ConnectionCheckSerializer, description="Nothing to check with: a value the check needs is missing."),
    502: OpenApiResponse(ConnectionCheckSerializer, description="The service refused the credential, a resource is missing, or a mismatch."),
    503: OpenApiResponse(ConnectionCheckSerializer, description="A deploy problem: unreadable stored credentials, or OAuth client settings missing."),
    504: OpenApiResponse(ConnectionCheckSerializer, description="The service did not answer within the timeout."),
}


class IntegrationCheckView(APIView):
    """Without a body: checks the stored values now and records the outcome. With a PATCH-shaped body: tests those
    values merged over the stored ones, and stores nothing, not even the outcome."""

    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(
        request=IntegrationUpdateSerializer,
        responses={200: ConnectionCheckSerializer, **_CHECK_FAILURES},
        summary="Check an integration's connection (its stored values, or a PATCH before saving it)",
        operation_id="integrations_check",
    )
    def post(self, request, integration_id):
        integration = _integration_or_404(request, integration_id)
        if isinstance(request.data, dict) and not request.data:  # no body (or {}): the stored values
            outcome = connection_checks.check_integration(integration)
        else:
            serializer = IntegrationUpdateSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            outcome = connection_checks.check_patched_values(integration, **serializer.update_arguments())
        return Response(check_data(outcome), status=outcome.http_status)


class UnsavedIntegrationCheckView(APIView):
    """Tests a new integration's values (a create-shaped body) before saving it; stores nothing."""

    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(
        request=IntegrationCreateSerializer,
        responses={200: ConnectionCheckSerializer, **_CHECK_FAILURES},
        summary="Check a new integration's connection before creating it",
        operation_id="integrations_check_unsaved",
    )
    def post(self, request):
        serializer = IntegrationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        outcome = connection_checks.check_unsaved_values(request.auth.workspace, **serializer.create_arguments())
        return Response(check_data(outcome), status=outcome.http_status)


class IntegrationStatsView(APIView):
    permission_classes = [IsWorkspaceMember]

    @extend_schema(responses=IntegrationStatsSerializer, summary="Get integration statistics")
    def get(self, request):
        return Response(services.integration_stats(request.auth.workspace))


class EmailTemplateListView(APIView):
    """Templates of one email provider (one route per entry of `providers.PROVIDERS`), every page."""

    permission_classes = [IsWorkspaceMember]
    integration_type = None  # set in urls.py

    @extend_schema(
        responses={
            200: EmailTemplateListSerializer,
            409: OpenApiResponse(description="No enabled integration of this type with an apiKey."),
            502: OpenApiResponse(description="The provider rejected the stored key, failed, or answered nonsense."),
            504: OpenApiResponse(description="The provider did not answer within the timeout."),
        },
        summary="List email provider templates",
    )
    def get(self, request):
        templates = services.list_email_templates(request.auth.workspace, self.integration_type)
        return Response(EmailTemplateListSerializer({"templates": templates}).data)
