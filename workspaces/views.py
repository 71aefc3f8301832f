"""Workspace API: any member reads the workspace; its OWNER changes its settings. Rules live in services.py."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from .permissions import IsWorkspaceMember, IsWorkspaceOwner
from .serializers import WorkspaceSerializer, WorkspaceUpdateSerializer
from .services import set_email_log_retention


class WorkspaceView(APIView):
    def get_permissions(self):
        return [IsWorkspaceOwner() if self.request.method == "PATCH" else IsWorkspaceMember()]

    @extend_schema(responses=WorkspaceSerializer, summary="Get the workspace and your role in it")
    def get(self, request):
        return Response(WorkspaceSerializer(request.auth).data)

    @extend_schema(
        request=WorkspaceUpdateSerializer, responses=WorkspaceSerializer, summary="Change the workspace's settings (OWNER)"
    )
    def patch(self, request):
        serializer = WorkspaceUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = request.auth
        if "emailLogRetentionDays" in serializer.validated_data:
            set_email_log_retention(membership.workspace, serializer.validated_data["emailLogRetentionDays"], actor=request.user)
        return Response(WorkspaceSerializer(membership).data)
