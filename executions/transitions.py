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

import json
import logging
from dataclasses import dataclass

from django.db import connection, transaction
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
        _after_change(execution, to, admitted=not (from_statuses & NOT_ADMITTED))
    return execution


def _duration_ms(started_at, completed_at) -> int | None:
    """What DURATION_SQL computes, from a start time the caller holds."""
    if started_at is None:
        return None
    return max(0, int((completed_at - started_at).total_seconds() * 1000))


def _notify(execution: Execution) -> None:
    """Tell the notifications app (DESIGN §16) after commit; it enqueues, never sends, and never raises."""
    from notifications.services import execution_finished

    execution_finished(execution)


def _slot_freed(organization_id, workflow_name: str) -> None:
    """A run gave back its admission slot (committed): publish runs waiting for it (executions.admission)."""
    from executions import admission

    try:
        if admission.wake_needed(organization_id=organization_id, workflow_name=workflow_name):
            admission.admission_dispatch(organization_ids=[organization_id], workflow_name=workflow_name)
    except Exception:  # the periodic pass admits them later
        logger.exception("admission dispatch after a finished run failed")


def _after_change(execution: Execution, to: str, *, admitted: bool) -> None:
    """Once the change is committed: broadcast it; for a finished run, notify and give back its slot."""
    transaction.on_commit(lambda: events.emit_status(execution))
    if to in FINISHED_STATUSES:
        transaction.on_commit(lambda: _notify(execution))
        if admitted and not execution.waiting_reason:
            organization_id, workflow_name = execution.organization_id, execution.workflow_name
            transaction.on_commit(lambda: _slot_freed(organization_id, workflow_name))


WORKFLOW_FIELDS = ("id", "name", "source_path", "is_available", "import_error", "retry_policy", "timeout_seconds")


@dataclass
class Claim:
    """A Running execution with what the engine needs to run it."""

    execution: Execution
    organization: dict | None  # {id, name}
    user: dict | None  # {id, email, name, is_platform_admin}
    workflow: dict | None  # WORKFLOW_FIELDS; None when the workflow is not registered


# Pending -> Running and, in the same statement, what the engine needs: the organization's name, the user,
# and the workflow's registry row (WORKFLOW_FIELDS). One round trip for the step every run takes, where the
# ORM needs a transaction, an UPDATE and two SELECTs (Django has no UPDATE ... RETURNING).
# test_run_path exercises it against the models (a renamed table or column fails there).
CLAIM_SQL = """
WITH claimed AS (
    UPDATE executions_execution
       SET status = %(running)s, started_at = %(now)s, updated_at = %(now)s,
           celery_task_id = COALESCE(NULLIF(%(task_id)s, ''), celery_task_id)
     WHERE id = %(id)s AND status = %(pending)s
 RETURNING *
)
SELECT claimed.*,
       org.name AS claim_organization_name,
       usr.email AS claim_user_email, usr.name AS claim_user_name,
       usr.is_platform_admin AS claim_user_is_platform_admin,
       wf.id AS claim_workflow_id, wf.name AS claim_workflow_name, wf.source_path AS claim_workflow_source_path,
       wf.is_available AS claim_workflow_is_available, wf.import_error AS claim_workflow_import_error,
       wf.retry_policy AS claim_workflow_retry_policy, wf.timeout_seconds AS claim_workflow_timeout_seconds
  FROM claimed
  LEFT JOIN orgs_organization org ON org.id = claimed.organization_id
  LEFT JOIN accounts_user usr ON usr.id = claimed.executed_by_id
  LEFT JOIN workflows_workflow wf ON wf.name = claimed.workflow_name
"""


def claim_pending(execution_id, *, task_id: str = "") -> Claim | None:
    """Pending -> Running, with the organization, user and workflow the engine needs (one statement)."""
    params = {"id": execution_id, "now": timezone.now(), "task_id": task_id, "running": S.RUNNING, "pending": S.PENDING}
    claimed = next(iter(Execution.objects.raw(CLAIM_SQL, params)), None)
    if claimed is None:
        return None
    transaction.on_commit(lambda: events.emit_running(claimed))
    workflow = None
    if claimed.claim_workflow_id is not None:
        workflow = {name: getattr(claimed, f"claim_workflow_{name}") for name in WORKFLOW_FIELDS}
        if isinstance(workflow["retry_policy"], str):  # a JSON column outside the model comes back as text
            workflow["retry_policy"] = json.loads(workflow["retry_policy"])
    return Claim(
        execution=claimed,
        organization={"id": str(claimed.organization_id), "name": claimed.claim_organization_name}
        if claimed.organization_id
        else None,
        user={
            "id": str(claimed.executed_by_id),
            "email": claimed.claim_user_email,
            "name": claimed.claim_user_name,
            "is_platform_admin": claimed.claim_user_is_platform_admin,
        }
        if claimed.executed_by_id and claimed.claim_user_email is not None
        else None,
        workflow=workflow,
    )


# Running -> a finished status, for the worker that claimed the run and holds its row (`finish_running`).
FINISH_SQL = """
UPDATE executions_execution
   SET status = %(status)s, updated_at = %(now)s, completed_at = %(now)s, duration_ms = %(duration_ms)s,
       result = %(result)s, result_type = %(result_type)s, error_type = %(error_type)s,
       error_message = %(error_message)s, variables = %(variables)s, cpu_ms = %(cpu_ms)s,
       workflow_version_id = (SELECT id FROM workflows_workflowversion
                               WHERE workflow_id = %(workflow_id)s AND source_hash = %(source_hash)s LIMIT 1)
 WHERE id = %(id)s AND status = %(running)s
RETURNING workflow_version_id
"""
FINISH_FIELDS = ("result", "result_type", "error_type", "error_message", "variables", "cpu_ms")


def finish_running(row: Execution, to: str, *, version: tuple | None = None, **fields) -> Execution | None:
    """Running -> `to` (a finished status) for the worker holding the claimed `row`: one UPDATE, and `row`
    updated in memory and returned (None if the run is no longer Running: a cancel came first).

    `fields` are FINISH_FIELDS; `version` is (workflow id, source hash) of the code that ran, recorded as
    the run's `workflow_version` when that version is stored. The same events follow as for `transition`.
    """
    if to not in FINISHED_STATUSES or S.RUNNING not in ALLOWED[to]:
        raise IllegalTransition(f"Running -> {to} is not an allowed transition")
    unknown = set(fields) - set(FINISH_FIELDS)
    if unknown:
        raise TypeError(f"finish_running() does not set {sorted(unknown)}")
    now = timezone.now()
    values = {
        name: fields[name] if name in fields else Execution._meta.get_field(name).get_default()
        for name in FINISH_FIELDS
    }
    values.update(status=to, updated_at=now, completed_at=now, duration_ms=_duration_ms(row.started_at, now))
    params = {
        name: Execution._meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()
    }
    workflow_id, source_hash = version or (None, None)
    params.update(id=row.id, now=now, running=S.RUNNING, workflow_id=workflow_id, source_hash=source_hash)
    with connection.cursor() as cursor:
        cursor.execute(FINISH_SQL, params)
        updated = cursor.fetchone()
    if updated is None:
        return None
    for name, value in values.items():
        setattr(row, name, value)
    row.workflow_version_id = updated[0]
    _after_change(row, to, admitted=True)
    return row


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
