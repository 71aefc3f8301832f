"""Integrations API: parse, call a service, render. Rules live in services.py."""

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.permissions import IsWorkspaceAdmin, IsWorkspaceMember

from . import services
from .models import Integration
from .serializers import (
    AuditEventSerializer,
    EmailTemplateListSerializer,
    IntegrationCreateSerializer,
    IntegrationDetailSerializer,
    IntegrationSerializer,
    IntegrationStatsSerializer,
    IntegrationUpdateSerializer,
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
        integrations = services.integrations_for(request.auth.workspace)
        return Response(IntegrationSerializer(integrations, many=True).data)

    @extend_schema(request=IntegrationCreateSerializer, responses={201: IntegrationDetailSerializer}, summary="Create an integration")
    def post(self, request):
        serializer = IntegrationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = services.create_integration(
            request.auth.workspace, actor=request.user, **serializer.create_arguments()
        )
        return Response(IntegrationDetailSerializer(integration).data, status=status.HTTP_201_CREATED)


class IntegrationDetailView(APIView):
    permission_classes = [IsWorkspaceAdmin]

    @extend_schema(responses=IntegrationDetailSerializer, summary="Get integration details")
    def get(self, request, integration_id):
        return Response(IntegrationDetailSerializer(_integration_or_404(request, integration_id)).data)

    @extend_schema(request=IntegrationUpdateSerializer, responses=IntegrationDetailSerializer, summary="Update an integration")
    def patch(self, request, integration_id):
        integration = _integration_or_404(request, integration_id)
        serializer = IntegrationUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        integration = services.update_integration(integration, actor=request.user, **serializer.update_arguments())
        return Response(IntegrationDetailSerializer(integration).data)

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
