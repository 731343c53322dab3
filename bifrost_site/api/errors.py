"""The error shape of every answer ({"error", "message", "details"}, DESIGN §6) and the domain errors that
services raise; the exception handler (exceptions.py) maps them to HTTP answers."""

from rest_framework import status
from rest_framework.exceptions import APIException

ERROR_CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    503: "service_unavailable",
}


def error_body(status_code: int, message: str, details=None, code: str | None = None) -> dict:
    return {"error": code or ERROR_CODES.get(status_code, "error"), "message": message, "details": details or {}}


class ApplicationError(APIException):
    """A business rule was broken by the request (400 unless a subclass says otherwise)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"
    default_detail = "The request could not be processed."

    def __init__(self, message: str | None = None, *, details: dict | None = None, code: str | None = None):
        super().__init__(message or self.default_detail, code or self.default_code)
        self.details = details or {}


class ConflictError(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state."


class ServiceUnavailableError(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "A service Bifrost depends on is unavailable; try again shortly."
