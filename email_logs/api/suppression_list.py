"""Suppression API: the workspace's suppression list, read by members, added to and removed from by admins."""

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from workspaces.permissions import IsWorkspaceAdmin, IsWorkspaceMember

from ..events import suppressions
from ..models import Suppression
from ..pagination import SuppressionPages
from .serializers import AddSuppressionSerializer, SuppressionSerializer


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
