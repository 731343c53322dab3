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

import functools
import json
from dataclasses import dataclass

from django.db import connections, router, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.db.models.sql import UpdateQuery
from django.utils import timezone

from bifrost_site.postgres_backend.base import bound_cursor
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


def _update_returning(
    execution_id, from_statuses: frozenset, values: dict, *, finished: bool, related: bool = False
) -> tuple[Execution, tuple] | None:
    """`UPDATE ... WHERE id = %s AND status IN (...) RETURNING *`: apply and read back in one round trip.

    Returns (row, related values) or None when the condition did not match. A finished status also
    sets `duration_ms` from `started_at` in the same statement. `related` adds the organization,
    user and workflow the engine needs to run the execution (JSON text, or None), see RELATED_SQL.
    """
    if any(hasattr(value, "resolve_expression") for value in values.values()):
        return _update_returning_compiled(execution_id, from_statuses, values, finished=finished)
    names = tuple(values)
    connection = connections[router.db_for_write(Execution)]
    params = [_FIELDS[name].get_db_prep_save(values[name], connection) for name in names]
    if finished:
        params.append(values["completed_at"])
    params.extend([execution_id, *sorted(from_statuses)])
    with bound_cursor(connection) as cursor:
        cursor.execute(_update_sql(from_statuses, names, finished, related), params)
        row = cursor.fetchone()
    if row is None:
        return None
    return _execution_from_row(connection, row), tuple(row[len(_RETURNED) :])


def _update_returning_compiled(execution_id, from_statuses: frozenset, values: dict, *, finished: bool):
    """The general path for values that are expressions (F(), RawSQL): Django's update compiler
    builds the SQL, a RETURNING clause is appended, and RawQuerySet applies the converters."""
    if finished:
        values["duration_ms"] = RawSQL(_DURATION_EXPRESSION, (values["completed_at"],))  # noqa: S611 (constant SQL)
    queryset = Execution.objects.filter(id=execution_id, status__in=from_statuses)
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    update_sql, params = query.get_compiler(queryset.db).as_sql()
    rows = list(Execution.objects.db_manager(queryset.db).raw(f"{update_sql} RETURNING {_COLUMNS}", params))
    return (rows[0], ()) if rows else None


# Every execution is claimed and finished through here, so the SQL text is kept per statement shape
# instead of compiling a queryset per call: the compile cost more than the round trip it issues.
_TABLE = Execution._meta.db_table
_RETURNED = Execution._meta.concrete_fields
_FIELDS = {field.name: field for field in _RETURNED} | {field.attname: field for field in _RETURNED}
_COLUMNS = ", ".join(f'"{field.column}"' for field in _RETURNED)
_ATTNAMES = [field.attname for field in _RETURNED]
_CONVERTERS = [(index, field.from_db_value) for index, field in enumerate(_RETURNED) if hasattr(field, "from_db_value")]
_DURATION_EXPRESSION = 'GREATEST(0, FLOOR(EXTRACT(EPOCH FROM (%s::timestamptz - "started_at")) * 1000))::integer'


def _related_sql() -> str:
    from accounts.models import User
    from orgs.models import Organization
    from workflows.models import Workflow

    def one(model, match: str, names: tuple) -> str:
        pairs = ", ".join(f"'{name}', r.\"{model._meta.get_field(name).column}\"" for name in names)
        return f'(SELECT json_build_object({pairs})::text FROM "{model._meta.db_table}" r WHERE {match})'  # noqa: S608

    return ", ".join(
        [
            one(Organization, f'r."id" = "{_TABLE}"."organization_id"', ("id", "name")),
            one(User, f'r."id" = "{_TABLE}"."executed_by_id"', ("id", "email", "name", "is_platform_admin")),
            one(Workflow, f'r."name" = "{_TABLE}"."workflow_name"', WORKFLOW_FIELDS),
        ]
    )


WORKFLOW_FIELDS = ("name", "source_path", "is_available", "import_error", "retry_policy", "timeout_seconds")


@functools.lru_cache(maxsize=128)
def _update_sql(from_statuses: frozenset, names: tuple, finished: bool, related: bool) -> str:
    assignments = [f'"{_FIELDS[name].column}" = %s' for name in names]
    if finished:
        assignments.append(f'"duration_ms" = {_DURATION_EXPRESSION}')
    statuses = ", ".join(["%s"] * len(from_statuses))
    returning = f"{_COLUMNS}, {_related_sql()}" if related else _COLUMNS
    # Names come from model metadata; every value is a parameter.
    sql = f'UPDATE "{_TABLE}" SET {", ".join(assignments)} WHERE "id" = %s AND "status" IN ({statuses}) '  # noqa: S608
    return sql + f"RETURNING {returning}"


def _execution_from_row(connection, row) -> Execution:
    values = list(row[: len(_RETURNED)])
    for index, convert in _CONVERTERS:
        values[index] = convert(values[index], None, connection)
    return Execution.from_db(connection.alias, _ATTNAMES, values)


def transition(execution_id, *, from_statuses, to: str, **fields) -> Execution | None:
    updated = _transition(execution_id, from_statuses=from_statuses, to=to, fields=fields)
    return updated[0] if updated else None


def _transition(execution_id, *, from_statuses, to: str, fields: dict, related: bool = False):
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
    finished = to in FINISHED_STATUSES
    if finished:
        fields.setdefault("completed_at", now)
    updated = _update_returning(
        execution_id, from_statuses, {"status": to, **fields}, finished=finished, related=related
    )
    if updated is not None:
        execution = updated[0]
        transaction.on_commit(lambda: events.emit_status(execution))
    return updated


@dataclass
class Claim:
    """A Running execution with what the engine needs to run it, read in the claiming statement."""

    execution: Execution
    organization: dict | None  # {id, name}
    user: dict | None  # {id, email, name, is_platform_admin}
    workflow: dict | None  # WORKFLOW_FIELDS; None when the workflow is not registered


def _claim(execution: Execution, related: tuple) -> Claim:
    organization, user, workflow = (json.loads(value) if value else None for value in related)
    return Claim(execution=execution, organization=organization, user=user, workflow=workflow)


def claim_pending(execution_id, *, task_id: str = "") -> Claim | None:
    """Pending -> Running in one statement that also reads the organization, user and workflow."""
    fields = {"started_at": timezone.now()}
    if task_id:
        fields["celery_task_id"] = task_id
    updated = _transition(execution_id, from_statuses={S.PENDING}, to=S.RUNNING, fields=fields, related=True)
    return _claim(*updated) if updated else None


def read_claim(execution_id) -> Claim | None:
    """The same as a claim, without changing anything (a claim whose answer was lost with its connection)."""
    connection = connections[router.db_for_read(Execution)]
    with bound_cursor(connection) as cursor:
        cursor.execute(f'SELECT {_COLUMNS}, {_related_sql()} FROM "{_TABLE}" WHERE "id" = %s', [execution_id])  # noqa: S608
        row = cursor.fetchone()
    if row is None:
        return None
    return _claim(_execution_from_row(connection, row), tuple(row[len(_RETURNED) :]))


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
