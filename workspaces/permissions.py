"""Permission classes, one question each. `request.auth` is the caller's Membership (see authentication)."""

from rest_framework.permissions import BasePermission


class IsWorkspaceMember(BasePermission):
    """Any role in the workspace the request is authenticated for."""

    message = "You are not a member of a workspace."

    def has_permission(self, request, view):
        return request.auth is not None and hasattr(request.auth, "workspace_id")


class IsWorkspaceAdmin(IsWorkspaceMember):
    """OWNER or ADMIN of the workspace."""

    message = "This action requires the ADMIN or OWNER role."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.auth.is_admin


class IsWorkspaceOwner(IsWorkspaceMember):
    """OWNER of the workspace."""

    message = "This action requires the OWNER role."

    def has_permission(self, request, view):
        return super().has_permission(request, view) and request.auth.is_owner
