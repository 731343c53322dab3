"""Domain errors that services raise; the exception handler maps them to HTTP answers."""

from rest_framework import status
from rest_framework.exceptions import APIException


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
