"""HTTP answers for "run a workflow" endpoints (execute, form submit, webhooks): DESIGN §6, §7."""

from __future__ import annotations

import datetime

from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.response import Response

from executions.models import ExecutionStatus
from executions.selectors import DECISION_ERROR_TYPES

GENERIC_ERROR = "An error occurred during execution"
RUN_AT_MAX_AHEAD = datetime.timedelta(days=366)


class RunAtField(serializers.DateTimeField):
    """`run_at` of an execute or submit body (DESIGN §15): ISO 8601, in the future, at most a year ahead.
    The run is created `Scheduled` and admitted at that time."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault(
            "help_text",
            "Defer the run: ISO 8601 time in the future (at most a year ahead). The answer is 202 with status "
            "`Scheduled`; cancel it before then with POST /api/executions/{id}/cancel.",
        )
        super().__init__(**kwargs)

    def to_internal_value(self, value):
        when = super().to_internal_value(value)
        now = timezone.now()
        if when <= now:
            raise serializers.ValidationError("Must be in the future.")
        if when > now + RUN_AT_MAX_AHEAD:
            raise serializers.ValidationError("Must be at most one year ahead.")
        return when


class ExecutionRunResultSerializer(serializers.Serializer):
    """200: the finished execution."""

    execution_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)
    result = serializers.JSONField(allow_null=True)
    result_type = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    error_type = serializers.CharField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)


class ExecutionAcceptedSerializer(serializers.Serializer):
    """202: queued or still running; follow it at /api/executions/{id} or ws/executions/{id}/."""

    execution_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ExecutionStatus.choices)


def visible_error(execution, user) -> tuple[str | None, str | None]:
    """(error_type, error_message) as `user` may see them (DESIGN §7).

    A UserError's message is shown to everyone; any other error shows platform admins its type
    and message (the traceback is in the logs) and everyone else only a generic sentence.
    """
    if not execution.error_type and not execution.error_message:
        return None, None
    if (
        execution.error_type == "UserError"
        or execution.error_type in DECISION_ERROR_TYPES
        or getattr(user, "is_platform_admin", False)
    ):
        return execution.error_type or None, execution.error_message or None
    return None, GENERIC_ERROR


def execution_run_payload(execution, *, user) -> dict:
    error_type, error_message = visible_error(execution, user)
    return {
        "execution_id": str(execution.id),
        "status": execution.status,
        "result": execution.result,
        "result_type": execution.result_type,
        "duration_ms": execution.duration_ms,
        "error_type": error_type,
        "error_message": error_message,
    }


RUN_RESPONSES = {200: ExecutionRunResultSerializer, 202: ExecutionAcceptedSerializer}
"""`extend_schema(responses={**RUN_RESPONSES, ...})` for every endpoint that runs a workflow."""


def started_run_response(started, *, request) -> Response:
    """The one answer to "run it" (execute, form submit, webhook, rerun) for a `StartedExecution`.

    Sync mode waits for the outcome (executions.services.execution_await) and answers 200 with the
    result, or 202 if it is not done within the wait; async answers 202 at once."""
    from executions import services
    from executions.idempotency import REPLAYED_HEADER

    if getattr(started, "replayed", False):
        response = execution_run_response(started.execution, request=request)
        response[REPLAYED_HEADER] = "true"
        return response
    if started.mode == "sync":
        return execution_run_response(services.execution_await(started), request=request)
    return execution_run_response(started.execution, request=request)


def execution_run_response(execution, *, request) -> Response:
    """200 with the result when finished; 202 {execution_id, status} when queued or still running."""
    if not execution.is_complete:
        return Response(
            {"execution_id": str(execution.id), "status": execution.status}, status=status.HTTP_202_ACCEPTED
        )
    return Response(execution_run_payload(execution, user=getattr(request, "user", None)), status=status.HTTP_200_OK)
