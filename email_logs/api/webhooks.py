"""The receivers of the providers' webhooks: `POST /api/webhooks/<provider slug>/<integration id>`.

One generic view for every provider: no token or session (the provider's signature, checked on the raw
bytes before anything is parsed, is the authentication), no CSRF. What a provider signs and sends is
its client class's knowledge; what the events change is `events.receive_webhook`'s.
"""

import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.providers import WebhookError
from opbox.errors import ApplicationError

from ..events.receiving import receive_webhook

logger = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 5 * 1024 * 1024


class WebhookTooLarge(ApplicationError):
    http_status = 413


def read_body(request) -> bytes:
    """The raw body, at most MAX_WEBHOOK_BYTES (a declared or a chunked body over it is refused unread)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = b"" if declared > MAX_WEBHOOK_BYTES else request.read(MAX_WEBHOOK_BYTES + 1)
    if declared > MAX_WEBHOOK_BYTES or len(body) > MAX_WEBHOOK_BYTES:
        raise WebhookTooLarge(f"Request body too large: at most {MAX_WEBHOOK_BYTES} bytes.")
    return body


_REFUSAL = inline_serializer("WebhookRefusal", {"detail": serializers.CharField()})


class ProviderWebhookView(APIView):
    """A provider's signed events about the emails one integration sent."""

    authentication_classes = []  # the signature authenticates
    permission_classes = [AllowAny]
    metadata_class = None  # OPTIONS is a 405 too: only a signed POST is answered
    provider = None  # the EmailProvider, given per route

    @extend_schema(
        request={"application/json": OpenApiTypes.ANY},
        responses={
            200: inline_serializer(
                "WebhookCounts",
                {name: serializers.IntegerField() for name in ("received", "applied", "duplicates", "unmatched")},
            ),
            400: OpenApiResponse(_REFUSAL, description="Signed, but not a body this provider sends; nothing was applied."),
            401: OpenApiResponse(
                _REFUSAL,
                description="Missing, wrong or stale signature, or no such integration of this provider with a webhook "
                "secret (one answer for all).",
            ),
            413: OpenApiResponse(_REFUSAL, description="Body over 5 MiB, or more events than one request may carry."),
        },
        auth=[],
        summary="Receive a provider's signed delivery events",
        description="Provider A (Resend) signs with Standard Webhooks (svix-id, svix-timestamp, svix-signature); "
        "provider B (SendGrid) with its Signed Event Webhook (X-Twilio-Email-Event-Webhook-Signature and -Timestamp). "
        "Each event is stored once, whatever the number of deliveries.",
    )
    def post(self, request, integration_id):
        body = read_body(request)
        try:
            counts = receive_webhook(self.provider, integration_id, request.headers, body)
        except WebhookError as error:
            logger.info("%s webhook for %r refused (%s): %s", self.provider.slug, integration_id, error.http_status, error)
            raise
        return Response(counts)
