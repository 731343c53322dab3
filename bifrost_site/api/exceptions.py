"""One error shape for every API answer: {"error", "message", "details"} (DESIGN §6)."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from bifrost_site.api.errors import ERROR_CODES, ApplicationError, error_body

logger = logging.getLogger(__name__)


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key == "non_field_errors" else f"{key}: {inner}"
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, ProtectedError):
        return Response(error_body(409, "This object is still referenced and cannot be deleted."), status=409)
    elif isinstance(exc, IntegrityError):
        logger.info("integrity error mapped to 409: %s", exc)
        return Response(error_body(409, "This conflicts with an existing object."), status=409)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    status_code = response.status_code
    if isinstance(exc, ApplicationError):
        body = error_body(status_code, str(exc.detail), exc.details, code=getattr(exc.detail, "code", None))
        if body["error"] in ("invalid", None):
            body["error"] = ERROR_CODES.get(status_code, "error")
    elif isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        body = error_body(400, "Invalid input: " + _first_message(details), details)
    elif isinstance(exc, exceptions.Throttled):
        body = error_body(429, str(exc.detail), {"retry_after_seconds": exc.wait})
    else:
        detail = exc.detail if hasattr(exc, "detail") else str(exc)
        body = error_body(status_code, _first_message(detail))
    if status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in response:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    response.data = body
    return response
