"""Run admission (DESIGN §15): limits per workflow and per organization, fair share, quotas.

A run holds a *slot* while it is `Pending` (admitted), `Running` or `Cancelling` with an empty
`waiting_reason` (the partial index `execution_active_idx`). Admission decides, under a transaction-scoped
PostgreSQL advisory lock per organization (GLOBAL runs count as one more organization) and, for a workflow
with `max_concurrency`, per workflow, whether a new run takes a slot now or waits:

- the fast path (under every limit): one advisory lock and one COUNT over the tiny active index, in the
  same transaction as the row's INSERT; the row is published after commit, as before;
- over a limit: the row is created `Pending` with `waiting_reason` and is not published.

When a run leaves its slot (a finished status, executions.transitions), it looks for waiting runs once
its UPDATE is committed, without a lock; if there are any, `admission_dispatch` publishes waiting runs
round-robin across organizations, oldest first within each, while the limits allow. A start that counted
the run as active and inserted its own row as waiting may commit just after that look; so a start that
waits looks again once it is committed (`recheck_after_wait`), when the finished run no longer counts:
of the two looks, the later one sees both commits, and no wake-up is lost. The periodic pass
(`executions.admit_waiting`, every 30 s) re-admits what a crashed process left waiting. A waiting row is
taken with `SELECT … FOR UPDATE SKIP LOCKED` and admitted by a conditional UPDATE, so no run is published
twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import zlib
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone
from rest_framework import status

from bifrost_site.api.errors import ApplicationError
from executions.models import Execution, ExecutionStatus, WaitingReason

logger = logging.getLogger(__name__)
S = ExecutionStatus
W = WaitingReason

LOCK_NAMESPACE_ORG = 0x42F1  # pg_advisory_xact_lock(namespace, key): one namespace per kind of lock
LOCK_NAMESPACE_WORKFLOW = 0x42F2
GLOBAL_KEY = "GLOBAL"
DEFAULT_ORG_LIMIT = 10


class QuotaExceeded(ApplicationError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "quota_exceeded"
    default_detail = "The organization's monthly run quota is used up."


def _key32(text: str) -> int:
    """A signed 32-bit key for the two-argument advisory lock."""
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def org_key(organization_id) -> str:
    return str(organization_id) if organization_id else GLOBAL_KEY


def lock_organization(organization_id) -> None:
    """The organization's admission lock until the transaction ends: starts and admissions take it, so
    that their count and their write are one step."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE_ORG, _key32(org_key(organization_id))])


# The runs holding a slot, worded like the partial index execution_active_idx (every start counts them).
ACTIVE_IN_ORGANIZATION_SQL = """
SELECT count(*) FROM executions_execution
 WHERE status IN ('Pending', 'Running', 'Cancelling') AND waiting_reason = ''
   AND (organization_id = %(organization_id)s OR (%(organization_id)s IS NULL AND organization_id IS NULL))
"""
ACTIVE_FOR_WORKFLOW_SQL = """
SELECT count(*) FROM executions_execution
 WHERE status IN ('Pending', 'Running', 'Cancelling') AND waiting_reason = '' AND workflow_name = %(workflow_name)s
"""


def lock_and_count_organization(organization_id) -> int:
    """Take the organization's admission lock, then count its runs holding a slot: two statements in one
    round trip (the count is its own statement, so it sees every start committed before the lock was ours)."""
    params = {
        "namespace": LOCK_NAMESPACE_ORG,
        "key": _key32(org_key(organization_id)),
        "organization_id": organization_id,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%(namespace)s, %(key)s);" + ACTIVE_IN_ORGANIZATION_SQL, params)
        cursor.nextset()
        return cursor.fetchone()[0]


def lock_workflow(workflow_name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE_WORKFLOW, _key32(workflow_name)])


def org_limit(organization) -> int:
    """The organization's concurrent-run limit (GLOBAL: the setting)."""
    limit = getattr(organization, "max_concurrent_runs", None) if organization is not None else None
    if limit is None:
        limit = getattr(settings, "ORG_MAX_CONCURRENT_RUNS", DEFAULT_ORG_LIMIT)
    return int(limit)


def active_count(*, organization_id=None, workflow_name: str | None = None) -> int:
    """Runs holding a slot in the organization (None: GLOBAL) or, with `workflow_name`, of that workflow."""
    if workflow_name is not None:
        sql, params = ACTIVE_FOR_WORKFLOW_SQL, {"workflow_name": workflow_name}
    else:
        sql, params = ACTIVE_IN_ORGANIZATION_SQL, {"organization_id": organization_id}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def month_start(now: dt.datetime | None = None) -> dt.datetime:
    now = now or timezone.now()
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def quota_check(organization) -> None:
    """429 naming the quota when the organization has used its monthly runs (null = unlimited).
    Every run in the organization's scope counts, whoever started it."""
    quota = getattr(organization, "monthly_run_quota", None) if organization is not None else None
    if quota is None:
        return
    used = Execution.objects.filter(organization_id=organization.id, created_at__gte=month_start()).count()
    if used >= quota:
        raise QuotaExceeded(
            f"{organization.name} has used its monthly run quota ({used} of {quota} runs this month); "
            "new runs start again next month or when an administrator raises the quota.",
            details={"monthly_run_quota": quota, "used": used},
        )


def admit(*, organization, workflow, active: int | None = None) -> str:
    """The waiting reason for a new run of `workflow` in `organization` ("" = take a slot now).

    Call inside the transaction that writes the row: the locks are held until it commits. `active` is the
    organization's count from `lock_and_count_organization` when the caller already holds the lock."""
    organization_id = getattr(organization, "id", None)
    if active is None:
        active = lock_and_count_organization(organization_id)
    reason = W.NONE
    if active >= org_limit(organization):
        reason = W.ORGANIZATION_CONCURRENCY
    elif (limit := workflow.concurrency_limit) is not None:
        lock_workflow(workflow.name)
        if active_count(workflow_name=workflow.name) >= limit:
            reason = W.WORKFLOW_CONCURRENCY
    if reason:
        transaction.on_commit(lambda: _recheck(organization, workflow))
    return reason


def _recheck(organization, workflow) -> None:
    try:
        recheck_after_wait(organization=organization, workflow=workflow)
    except Exception:  # the periodic pass admits it later
        logger.exception("admission recheck after a waiting start failed")


# --- waking waiting runs ----------------------------------------------------------------------


def _waiting():
    return Execution.objects.filter(status=S.PENDING).exclude(waiting_reason="")


# Does a run wait in this organization, or for this workflow's slot? Two probes in one round trip, each
# worded like the partial index it reads (execution_waiting_idx, execution_waiting_workflow_idx): every
# finished run asks, so it is written out rather than built by the ORM per call. test_admission checks
# that it agrees with _oldest_waiting and _waiting_for_workflow.
WAKE_NEEDED_SQL = """
SELECT EXISTS (SELECT 1 FROM executions_execution
                WHERE NOT (waiting_reason = '') AND status = 'Pending'
                  AND (organization_id = %(organization_id)s
                       OR (%(organization_id)s IS NULL AND organization_id IS NULL)))
    OR EXISTS (SELECT 1 FROM executions_execution
                WHERE waiting_reason = 'workflow_concurrency' AND status = 'Pending'
                  AND workflow_name = %(workflow_name)s)
"""


def wake_needed(*, organization_id, workflow_name: str) -> bool:
    """After a freed slot is committed: does any run wait for it? (See the module's note on wake-ups.)"""
    with connection.cursor() as cursor:
        cursor.execute(WAKE_NEEDED_SQL, {"organization_id": organization_id, "workflow_name": workflow_name})
        return cursor.fetchone()[0]


def recheck_after_wait(*, organization, workflow) -> None:
    """After a run inserted as waiting is committed: if a slot is free now, dispatch.

    A run finishing while this one was counted may have looked for waiting runs before this row was
    committed; its slot is then free by the time this looks (its finish committed before its look)."""
    organization_id = getattr(organization, "id", None)
    limit = workflow.concurrency_limit
    if active_count(organization_id=organization_id) < org_limit(organization) or (
        limit is not None and active_count(workflow_name=workflow.name) < limit
    ):
        admission_dispatch(organization_ids=[organization_id], workflow_name=workflow.name)


def _oldest_waiting(organization_id):
    """When the organization's oldest waiting run was created (None: none waits). Ordered like the partial
    index with LIMIT 1, so it is an index probe whatever the column statistics say (GLOBAL runs are
    `organization_id IS NULL`, which a stale estimate turns into a sequential scan)."""
    waiting = (
        _waiting().filter(organization_id=organization_id)
        if organization_id
        else _waiting().filter(organization__isnull=True)
    )
    return waiting.order_by("organization_id", "created_at").values_list("created_at", flat=True).first()


def _waiting_for_workflow(workflow_name: str):
    return Execution.objects.filter(
        status=S.PENDING, waiting_reason=W.WORKFLOW_CONCURRENCY, workflow_name=workflow_name
    )


@dataclass
class DispatchResult:
    admitted: list[str] = field(default_factory=list)
    organizations: int = 0


def _workflow_limits(names) -> dict[str, int | None]:
    from workflows.models import Workflow

    return {w.name: w.concurrency_limit for w in Workflow.objects.filter(name__in=set(names))}


def _admit_one(organization_id, full_workflows: set[str]) -> tuple[Execution | None, bool]:
    """In one transaction: admit the oldest waiting run of one organization that the limits allow.

    Returns (the admitted row or None, whether the organization may have more to admit now: also when it
    admitted none because the oldest rows' workflows were full, so the next try skips those workflows)."""
    from orgs.models import Organization

    full_before = len(full_workflows)

    with transaction.atomic():
        lock_organization(organization_id)
        organization = Organization.objects.filter(id=organization_id).first() if organization_id else None
        if active_count(organization_id=organization_id) >= org_limit(organization):
            return None, False
        candidates = (
            (
                _waiting().filter(organization_id=organization_id)
                if organization_id
                else _waiting().filter(organization__isnull=True)
            )
            .exclude(workflow_name__in=full_workflows)
            .order_by("organization_id", "created_at")  # the partial index's order: an index probe
            .select_for_update(skip_locked=True)
        )
        for row in candidates[:20]:
            limit = _workflow_limits([row.workflow_name]).get(row.workflow_name)
            if limit is not None:
                lock_workflow(row.workflow_name)
                if active_count(workflow_name=row.workflow_name) >= limit:
                    full_workflows.add(row.workflow_name)
                    if row.waiting_reason != W.WORKFLOW_CONCURRENCY:
                        Execution.objects.filter(id=row.id, status=S.PENDING).update(
                            waiting_reason=W.WORKFLOW_CONCURRENCY, updated_at=timezone.now()
                        )
                    continue
            if (
                not Execution.objects.filter(id=row.id, status=S.PENDING)
                .exclude(waiting_reason="")
                .update(waiting_reason=W.NONE, updated_at=timezone.now())
            ):
                continue
            row.waiting_reason = W.NONE
            transaction.on_commit(lambda row=row: _publish_admitted(row))
            return row, True
        return None, len(full_workflows) > full_before


def _publish_admitted(row: Execution) -> None:
    from executions.services import publish_admitted

    publish_admitted(row)


def admission_dispatch(
    *, organization_ids=None, workflow_name: str | None = None, max_runs: int = 500
) -> DispatchResult:
    """Publish waiting runs, one per organization per round (round-robin), oldest first within each,
    while the limits allow. `organization_ids` / `workflow_name` narrow it to what a freed slot can help
    (None = every organization: the periodic pass)."""
    orgs = _waiting_organizations(organization_ids, workflow_name)
    result = DispatchResult(organizations=len(orgs))
    full_workflows: set[str] = set()
    open_orgs = list(orgs)
    while open_orgs and len(result.admitted) < max_runs:
        still_open = []
        for organization_id in open_orgs:
            row, more = _admit_one(organization_id, full_workflows)
            if row is not None:
                result.admitted.append(str(row.id))
            if more:
                still_open.append(organization_id)
        open_orgs = still_open
    if result.admitted:
        logger.info("admission: published %d waiting run(s)", len(result.admitted))
    return result


def _waiting_organizations(organization_ids, workflow_name: str | None) -> list:
    """Organizations with waiting runs, the one waiting longest first. Each part is read on its own partial
    index (an OR across them would scan the table)."""

    if organization_ids is None and workflow_name is None:  # the periodic pass
        found = dict(_waiting().values_list("organization_id").annotate(oldest=Min("created_at")).order_by())
    else:
        found = {}
        for organization_id in organization_ids or ():
            when = _oldest_waiting(organization_id)
            if when is not None:
                found[organization_id] = when
        if workflow_name is not None:
            rows = _waiting_for_workflow(workflow_name).order_by("created_at")
            for organization_id, when in rows.values_list("organization_id", "created_at")[:500]:
                found[organization_id] = min(when, found.get(organization_id, when))
    return sorted(found, key=lambda organization_id: found[organization_id])


def waiting_by_organization(executions=None) -> dict[str, dict[str, int]]:
    """{organization id or "GLOBAL": {waiting reason: runs}} for /metrics and /api/metrics; `executions`
    narrows it (a scope)."""
    from django.db.models import Count

    waiting = (executions if executions is not None else Execution.objects.all()).filter(status=S.PENDING)
    rows = waiting.exclude(waiting_reason="").values("organization_id", "waiting_reason").annotate(n=Count("id"))
    result: dict[str, dict[str, int]] = {}
    for row in rows.order_by():
        result.setdefault(org_key(row["organization_id"]), {})[row["waiting_reason"]] = row["n"]
    return result
