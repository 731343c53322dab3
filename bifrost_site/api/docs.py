"""Shared OpenAPI pieces: the error body every endpoint documents."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from bifrost_site.scope import ORG_HEADER


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="Machine-readable code, e.g. validation_error, not_found, conflict.")
    message = serializers.CharField(help_text="Human-readable explanation.")
    details = serializers.DictField(help_text="Per-field messages for validation errors.")


ERROR = OpenApiResponse(ErrorSerializer, description="Error: {error, message, details}")


def error(description: str) -> OpenApiResponse:
    """The error body with a status-specific description, e.g. `404: error("Unknown workflow")`."""
    return OpenApiResponse(ErrorSerializer, description=description)


ORG_SCOPE_PARAMETER = OpenApiParameter(
    ORG_HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Platform admins: act inside this organization (UUID); absent = GLOBAL scope.",
)


def errors(*codes: int) -> dict:
    """`responses={200: X, **errors(400, 404)}`: the error shape for each status (401 and 403 always)."""
    return dict.fromkeys(sorted({401, 403, *codes}), ERROR)
