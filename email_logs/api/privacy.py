"""Privacy API: answer an erasure request (SPEC §12). Rules live in email_logs.lifecycle (erasure, entry_points)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from opbox.api import StrictCharField, StrictSerializer
from workspaces.permissions import IsWorkspaceOwner

from ..lifecycle.entry_points import erase_address


class EraseRequestSerializer(StrictSerializer):
    address = StrictCharField(max_length=320, help_text="The email address to erase (any case).")


class ErasureSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Email Log rows that held the address; they stay, with it replaced by [erased].")
    events = serializers.IntegerField(help_text="Delivery events of the address, deleted.")
    suppressions = serializers.IntegerField(help_text="Suppressions that held the address, now kept as a keyed hash only.")


class EraseAddressView(APIView):
    permission_classes = [IsWorkspaceOwner]

    @extend_schema(
        request=EraseRequestSerializer,
        responses=ErasureSerializer,
        summary="Erase an address from the workspace's Email Log, events and suppressions (OWNER)",
        description=(
            "Rows naming the address in To, CC or BCC keep their record with the address replaced by [erased]; where "
            "it was the only recipient, Subject and Error are erased too. Its events are deleted. The address stays "
            "suppressed, as a keyed hash only, so it receives nothing more; the audit trail keeps only that hash."
        ),
    )
    def post(self, request):
        serializer = EraseRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = erase_address(request.auth.workspace, serializer.validated_data["address"], actor=request.user)
        return Response(ErasureSerializer(result).data)
