"""The execution state machine (DESIGN §9): every status change is a conditional UPDATE here.

`UPDATE ... WHERE id = %s AND status IN (...)` either applies or does not; a caller that loses
the race (a cancel against a finishing run, a redelivered task) sees `None` and does nothing.
After an applied transition commits, the new status is broadcast (executions.events).

Allowed moves:
    Scheduled  -> Pending (admitted at its time, or waiting) | Cancelled
    AwaitingApproval -> Pending (approved: admitted, or waiting) | Rejected | Expired | Cancelled (approvals)
    Pending    -> Running | Cancelled | Failed (broker down, poison) | Timeout (stuck)
    Running    -> Success | CompletedWithErrors | Failed | Timeout | Cancelling
                  | Pending (a retry_policy re-queues the same row with attempt + 1)
    Cancelling -> Cancelled
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone

from executions import events
from executions.models import FINISHED_STATUSES, Execution, ExecutionStatus

S = ExecutionStatus
logger = logging.getLogger(__name__)

ALLOWED: dict[str, frozenset[str]] = {
    S.RUNNING: frozenset({S.PENDING}),
    S.CANCELLING: frozenset({S.PENDING, S.RUNNING}),
    S.CANCELLED: frozenset({S.PENDING, S.CANCELLING, S.SCHEDULED, S.AWAITING_APPROVAL}),
    S.SUCCESS: frozenset({S.RUNNING}),
    S.COMPLETED_WITH_ERRORS: frozenset({S.RUNNING}),
    S.FAILED: frozenset({S.PENDING, S.RUNNING}),
    S.TIMEOUT: frozenset({S.PENDING, S.RUNNING}),
    S.PENDING: frozenset({S.RUNNING, S.SCHEDULED, S.AWAITING_APPROVAL}),
    S.REJECTED: frozenset({S.AWAITING_APPROVAL}),
    S.EXPIRED: frozenset({S.AWAITING_APPROVAL}),
}
# Statuses before admission: a run leaving one of them never held a slot.
NOT_ADMITTED = frozenset({S.SCHEDULED, S.AWAITING_APPROVAL})

# duration_ms of a finished row, computed in its UPDATE from the stored started_at (NULL if it never started)
DURATION_SQL = 'GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (%s::timestamptz - "started_at")) * 1000))::integer'


class IllegalTransition(ValueError):
    pass


def transition(execution_id, *, from_statuses, to: str, **fields) -> Execution | None:
    """Move the row to `to` if its status is one of `from_statuses`; return the updated row or None.

    A conditional UPDATE, then the row read back in the same transaction (the UPDATE's row lock keeps
    it as written). Finished statuses get `completed_at` (now, unless given) and `duration_ms` from
    `started_at`. The status event is broadcast once the change is committed.
    """
    from_statuses = frozenset(from_statuses)
    illegal = from_statuses - ALLOWED.get(to, frozenset())
    if illegal:
        raise IllegalTransition(f"{sorted(illegal)} -> {to} is not an allowed transition")
    now = timezone.now()
    fields.setdefault("updated_at", now)
    if to in FINISHED_STATUSES:
        fields.setdefault("completed_at", now)
        fields["duration_ms"] = RawSQL(DURATION_SQL, (fields["completed_at"],))  # noqa: S611 (constant SQL)
    with transaction.atomic():
        if not Execution.objects.filter(id=execution_id, status__in=from_statuses).update(status=to, **fields):
            return None
        execution = Execution.objects.get(id=execution_id)
        transaction.on_commit(lambda: events.emit_status(execution))
        if to in FINISHED_STATUSES:
            transaction.on_commit(lambda: _notify(execution))
        if to in FINISHED_STATUSES and not (from_statuses & NOT_ADMITTED) and not execution.waiting_reason:
            _slot_freed(execution)
    return execution


def _notify(execution: Execution) -> None:
    """Tell the notifications app (DESIGN §16) after commit; it enqueues, never sends, and never raises."""
    from notifications.services import execution_finished

    execution_finished(execution)


def _slot_freed(execution: Execution) -> None:
    """A run gave back its admission slot: wake waiting runs after commit (executions.admission)."""
    from executions import admission

    if admission.wake_needed(organization_id=execution.organization_id, workflow_name=execution.workflow_name):
        organization_id, workflow_name = execution.organization_id, execution.workflow_name
        transaction.on_commit(lambda: _dispatch(organization_id, workflow_name))


def _dispatch(organization_id, workflow_name: str) -> None:
    from executions import admission

    try:
        admission.admission_dispatch(organization_ids=[organization_id], workflow_name=workflow_name)
    except Exception:  # the periodic pass admits them later
        logger.exception("admission dispatch after a finished run failed")


WORKFLOW_FIELDS = ("id", "name", "source_path", "is_available", "import_error", "retry_policy", "timeout_seconds")


@dataclass
class Claim:
    """A Running execution with what the engine needs to run it."""

    execution: Execution
    organization: dict | None  # {id, name}
    user: dict | None  # {id, email, name, is_platform_admin}
    workflow: dict | None  # WORKFLOW_FIELDS; None when the workflow is not registered


def claim_pending(execution_id, *, task_id: str = "") -> Claim | None:
    """Pending -> Running, with the organization, user and workflow the engine needs."""
    fields = {"started_at": timezone.now()}
    if task_id:
        fields["celery_task_id"] = task_id
    if transition(execution_id, from_statuses={S.PENDING}, to=S.RUNNING, **fields) is None:
        return None
    return read_claim(execution_id)


def read_claim(execution_id) -> Claim | None:
    """The execution and what the engine needs to run it, without changing anything."""
    from workflows.models import Workflow

    execution = Execution.objects.select_related("organization", "executed_by").filter(id=execution_id).first()
    if execution is None:
        return None
    organization = execution.organization
    user = execution.executed_by
    return Claim(
        execution=execution,
        organization={"id": str(organization.id), "name": organization.name} if organization else None,
        user={
            "id": str(user.id),
            "email": user.email,
            "name": user.name,
            "is_platform_admin": user.is_platform_admin,
        }
        if user
        else None,
        workflow=Workflow.objects.filter(name=execution.workflow_name).values(*WORKFLOW_FIELDS).first(),
    )


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
