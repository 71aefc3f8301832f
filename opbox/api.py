"""Pieces every API view shares: the exception handler and the timestamp format of the seed."""

import logging
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError

logger = logging.getLogger(__name__)


def iso_timestamp(value: datetime | None) -> str | None:
    """UTC ISO-8601 with milliseconds and `Z`, e.g. `2026-01-15T08:00:00.000Z`."""
    if value is None:
        return None
    # isoformat is C; strftime plus an f-string cost half again as much, 100 times on a 50-row page.
    return value.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _django_validation_detail(error: DjangoValidationError):
    if hasattr(error, "error_dict"):
        return {field: [str(message) for message in messages] for field, messages in error.message_dict.items()}
    return {"detail": " ".join(error.messages)}


def exception_handler(exc, context):
    """DRF's handler, plus Django's ValidationError (400) and every `ApplicationError`, answered with the
    status the error names (e.g. nothing configured -> 409, provider refused -> 502, provider silent -> 504).
    """
    if isinstance(exc, DjangoValidationError):
        return Response(_django_validation_detail(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ApplicationError):
        if exc.http_status >= 500:
            logger.warning("%s: %s", type(exc).__name__, exc.detail)
        return Response({"detail": exc.detail}, status=exc.http_status)
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
