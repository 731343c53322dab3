"""The execution state machine (DESIGN §9): every status change is a conditional UPDATE here.

`UPDATE ... WHERE id = %s AND status IN (...)` either applies or does not; a caller that loses
the race (a cancel against a finishing run, a redelivered task) sees `None` and does nothing.
After an applied transition commits, the new status is broadcast (executions.events).

Allowed moves:
    Pending    -> Running | Cancelled | Failed (broker down, poison) | Timeout (stuck)
    Running    -> Success | CompletedWithErrors | Failed | Timeout | Cancelling
                  | Pending (a retry_policy re-queues the same row with attempt + 1)
    Cancelling -> Cancelled
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from executions import events
from executions.models import FINISHED_STATUSES, Execution, ExecutionStatus

S = ExecutionStatus

ALLOWED: dict[str, frozenset[str]] = {
    S.RUNNING: frozenset({S.PENDING}),
    S.CANCELLING: frozenset({S.PENDING, S.RUNNING}),
    S.CANCELLED: frozenset({S.PENDING, S.CANCELLING}),
    S.SUCCESS: frozenset({S.RUNNING}),
    S.COMPLETED_WITH_ERRORS: frozenset({S.RUNNING}),
    S.FAILED: frozenset({S.PENDING, S.RUNNING}),
    S.TIMEOUT: frozenset({S.PENDING, S.RUNNING}),
    S.PENDING: frozenset({S.RUNNING}),
}


class IllegalTransition(ValueError):
    pass


def transition(execution_id, *, from_statuses, to: str, **fields) -> Execution | None:
    """Move the row to `to` if its status is one of `from_statuses`; return the refreshed row or None.

    Finished statuses get `completed_at` (now, unless given) and `duration_ms` from `started_at`.
    """
    from_statuses = frozenset(from_statuses)
    illegal = from_statuses - ALLOWED.get(to, frozenset())
    if illegal:
        raise IllegalTransition(f"{sorted(illegal)} -> {to} is not an allowed transition")
    now = timezone.now()
    fields.setdefault("updated_at", now)
    finished = to in FINISHED_STATUSES
    if finished:
        fields.setdefault("completed_at", now)
    with transaction.atomic():
        applied = Execution.objects.filter(id=execution_id, status__in=from_statuses).update(status=to, **fields)
        if not applied:
            return None
        if finished:
            completed_at = fields["completed_at"]
            row = Execution.objects.filter(id=execution_id).values("started_at").first()
            if row and row["started_at"] is not None:
                duration = max(0, int((completed_at - row["started_at"]).total_seconds() * 1000))
                Execution.objects.filter(id=execution_id).update(duration_ms=duration)
        execution = Execution.objects.select_related("organization").get(id=execution_id)
        transaction.on_commit(lambda: events.emit_status(execution))
    return execution


def start(execution_id, *, task_id: str = "") -> Execution | None:
    fields = {"started_at": timezone.now()}
    if task_id:
        fields["celery_task_id"] = task_id
    return transition(execution_id, from_statuses={S.PENDING}, to=S.RUNNING, **fields)


def requeue_for_retry(execution_id, *, task_id: str, error_type: str, error_message: str) -> Execution | None:
    """Running -> Pending for the next attempt of a workflow with a retry_policy."""
    return transition(
        execution_id,
        from_statuses={S.RUNNING},
        to=S.PENDING,
        attempt=F("attempt") + 1,
        celery_task_id=task_id,
        error_type=error_type,
        error_message=error_message,
    )
