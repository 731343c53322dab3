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

from django.db import connections, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.db.models.sql import UpdateQuery
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


def _update_returning(execution_id, from_statuses: frozenset, values: dict) -> Execution | None:
    """`UPDATE ... WHERE id = %s AND status IN (...) RETURNING *`: apply and read back in one round trip.

    The SQL comes from Django's own update compiler (field preparation, F() expressions), with a
    RETURNING clause appended; the row comes back through RawQuerySet, which applies the fields'
    database converters (JSON, datetimes) like any query.
    """
    queryset = Execution.objects.filter(id=execution_id, status__in=from_statuses)
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    update_sql, params = query.get_compiler(queryset.db).as_sql()
    quote = connections[queryset.db].ops.quote_name
    columns = ", ".join(quote(field.column) for field in Execution._meta.concrete_fields)
    rows = list(Execution.objects.db_manager(queryset.db).raw(f"{update_sql} RETURNING {columns}", params))
    return rows[0] if rows else None


def transition(execution_id, *, from_statuses, to: str, **fields) -> Execution | None:
    """Move the row to `to` if its status is one of `from_statuses`; return the updated row or None.

    One statement: the conditional UPDATE returns the row it changed. Finished statuses get
    `completed_at` (now, unless given) and `duration_ms` computed from `started_at` in the same
    UPDATE. The status event is broadcast once the change is committed (at once outside a
    transaction). The returned row's foreign keys (organization, executed_by) load lazily.
    """
    from_statuses = frozenset(from_statuses)
    illegal = from_statuses - ALLOWED.get(to, frozenset())
    if illegal:
        raise IllegalTransition(f"{sorted(illegal)} -> {to} is not an allowed transition")
    now = timezone.now()
    fields.setdefault("updated_at", now)
    if to in FINISHED_STATUSES:
        fields.setdefault("completed_at", now)
        fields["duration_ms"] = RawSQL(
            "GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (%s::timestamptz - started_at)) * 1000))::integer",
            (fields["completed_at"],),
        )
    execution = _update_returning(execution_id, from_statuses, {"status": to, **fields})
    if execution is not None:
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
