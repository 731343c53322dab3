"""The `Idempotency-Key` header of the "run a workflow" endpoints (DESIGN §15).

The view turns the header into `executions.services.Idempotency` (the key and the body hashed, plus who
asked); `execution_start` enforces it with a unique constraint; `started_run_response` marks a replay with
`Idempotent-Replayed: true`.
"""

from __future__ import annotations

import hashlib
import json

from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from bifrost_site.middleware import client_ip
from executions.services import Idempotency

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_LENGTH = 255

OPENAPI_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "1–255 characters. The same key from the same caller within 24 hours answers the original execution "
        "(same id and status code, header `Idempotent-Replayed: true`) instead of starting another; "
        "the same key with a different body is a 422."
    ),
)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def request_caller(request, *, workflow_key_id=None) -> str:
    """Who asked: the signed-in user, the workflow key, or an anonymous caller by IP address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    if workflow_key_id is not None:
        return f"key:{workflow_key_id}"
    return f"ip:{client_ip(request) or 'unknown'}"


def idempotency_from_request(request, *, target: str, body, workflow_key_id=None) -> Idempotency | None:
    """The request's idempotency (None without the header); 400 for an empty or over-long key.
    `target` names what is run (the workflow or form), so one key on two targets is two different bodies."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_LENGTH:
        raise ValidationError({HEADER: [f"Use 1 to {MAX_LENGTH} characters."]})
    canonical = json.dumps({"target": target, "body": body}, sort_keys=True, default=str, separators=(",", ":"))
    return Idempotency(
        caller=request_caller(request, workflow_key_id=workflow_key_id),
        key_hash=_sha256(key),
        body_hash=_sha256(canonical),
    )
