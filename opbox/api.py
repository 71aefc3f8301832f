"""Pieces every API view shares: the exception handler and the timestamp format of the seed."""

import logging
from datetime import datetime, timezone

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def iso_timestamp(value: datetime | None) -> str | None:
    """UTC ISO-8601 with milliseconds and `Z`, e.g. `2026-01-15T08:00:00.000Z`."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _django_validation_detail(error: DjangoValidationError):
    if hasattr(error, "error_dict"):
        return {field: [str(message) for message in messages] for field, messages in error.message_dict.items()}
    return {"detail": " ".join(error.messages)}


def exception_handler(exc, context):
    """DRF's handler, plus the domain errors every view may meet, each mapped to its status code:
    validation -> 400, nothing configured -> 409, provider refused -> 502, provider silent -> 504.
    """
    from integrations.providers import ProviderAuthError, ProviderError, ProviderTimeout
    from integrations.services import EmailProviderNotConfigured

    if isinstance(exc, DjangoValidationError):
        return Response(_django_validation_detail(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, EmailProviderNotConfigured):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ProviderTimeout):
        return Response({"detail": str(exc)}, status=status.HTTP_504_GATEWAY_TIMEOUT)
    if isinstance(exc, ProviderAuthError):
        detail = f"{exc} Update the integration's apiKey."
        return Response({"detail": detail}, status=status.HTTP_502_BAD_GATEWAY)
    if isinstance(exc, ProviderError):
        logger.warning("Email provider error: %s", exc)
        return Response({"detail": str(exc)}, status=status.HTTP_502_BAD_GATEWAY)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return drf_exception_handler(exc, context)


@extend_schema_field({"type": "string", "format": "date-time", "example": "2026-01-15T08:00:00.000Z"})
class TimestampField(serializers.ReadOnlyField):
    """A read-only datetime rendered in the seed's form (`iso_timestamp`)."""

    def to_representation(self, value):
        return iso_timestamp(value)


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF would turn 0 into "0", hiding a client's bug."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only (DRF also takes "yes", "1", 1...)."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not know, naming the allowed ones: a typo or a mass-assignment attempt is a 400."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            writable = [name for name, field in self.fields.items() if not field.read_only]
            unknown = sorted(set(data) - set(writable))
            if unknown:
                raise exceptions.ValidationError(
                    {key: [f"Unknown field. Allowed: {', '.join(writable)}."] for key in unknown}
                )
        return super().to_internal_value(data)
