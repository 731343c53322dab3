"""Writes for executions: start, await, cancel, rerun, cleanup (DESIGN §9).

Every status change goes through `executions.transitions` (conditional updates).
"""

from __future__ import annotations

import datetime
import logging
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from approvals.services import approval_cancel_for_execution, approval_request, approval_required
from audit.services import audit_record
from bifrost.errors import ParameterValidationError
from bifrost.params import coerce_parameters
from bifrost_site.api.errors import ApplicationError, ConflictError, ServiceUnavailableError
from executions import admission, transitions
from executions.models import (
    FINISHED_STATUSES,
    Execution,
    ExecutionStatus,
    IdempotencyKey,
    LogLevel,
    Trigger,
    WaitingReason,
)

S = ExecutionStatus
logger = logging.getLogger(__name__)

CLEANUP_PENDING_AFTER = datetime.timedelta(minutes=10)
CLEANUP_RUNNING_GRACE = datetime.timedelta(minutes=5)
CLEANUP_CANCELLING_AFTER = datetime.timedelta(minutes=3)
# revoke(terminate=True) with SIGUSR1 raises SoftTimeLimitExceeded inside the prefork child: it
# interrupts time.sleep and pure-Python loops, and the engine turns it into Cancelled.
CANCEL_SIGNAL = "SIGUSR1"
# How often a sync caller reads the row while Redis is unreachable.
ROW_POLL_SECONDS = 0.1


def _runnable_workflow(name: str):
    """The workflow's registry row: 404 unknown, 409 unavailable."""
    from workflows.models import Workflow

    try:
        workflow = Workflow.objects.get(name=name)
    except Workflow.DoesNotExist:
        raise NotFound(f"Workflow '{name}' does not exist.") from None
    if not workflow.is_available:
        raise ConflictError(f"Workflow '{name}' is unavailable.", details={"import_error": workflow.import_error})
    return workflow


IDEMPOTENCY_WINDOW = datetime.timedelta(hours=24)
# A deferred run due within this window is published at once with a Celery `eta`; later ones are
# published by the periodic pass when they come due (an eta message is held unacknowledged by a worker,
# and RabbitMQ closes consumers that hold one longer than its consumer_timeout).
DEFER_PUBLISH_WINDOW = datetime.timedelta(minutes=10)


@dataclass
class StartedExecution:
    execution: Execution
    mode: str  # "sync" | "async"
    timeout_seconds: int = 1800
    replayed: bool = False  # an Idempotency-Key answered with the original run


@dataclass(frozen=True)
class Idempotency:
    """An `Idempotency-Key` as the start service needs it: who asked, the key and the body, hashed."""

    caller: str  # user:<id> | key:<workflow key id> | ip:<address>
    key_hash: str
    body_hash: str


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request body."


def effective_mode(execution_mode: str | None, trigger: str) -> str:
    if execution_mode:
        return execution_mode
    return "sync" if trigger == Trigger.ENDPOINT else "async"


def publish_run(
    execution_id, *, task_id: str, timeout_seconds: int, countdown: float | None = None, awaited: bool = True
) -> None:
    """Queue the run task (its queue, acks and retry options are set once on the task and in the Celery
    settings). An `awaited` run leaves its answer for the caller in Redis (executions.answers)."""
    from executions.engine.runner import time_limits
    from executions.tasks import run_execution_task

    soft, hard = time_limits(timeout_seconds)
    run_execution_task.apply_async(
        args=[str(execution_id)],
        kwargs={"answer": True} if awaited else None,
        task_id=task_id,
        soft_time_limit=soft,
        time_limit=hard,
        countdown=countdown or None,
    )


def _publish(execution_id, task_id: str, timeout_seconds: int, *, awaited: bool) -> None:
    try:
        publish_run(execution_id, task_id=task_id, timeout_seconds=timeout_seconds, awaited=awaited)
    except Exception as exc:
        logger.error("could not publish execution %s: %s", execution_id, exc)
        message = "The task queue (RabbitMQ) is unreachable; the execution was not started."
        failed = transitions.transition(
            execution_id,
            from_statuses={S.PENDING},
            to=S.FAILED,
            error_type="BrokerUnavailable",
            error_message=message,
        )
        if failed is not None:
            from executions.engine.logs import log_line

            log_line(execution_id, LogLevel.ERROR, message)
        raise ServiceUnavailableError(message, details={"execution_id": str(execution_id)}) from exc


def execution_start(
    *,
    workflow_name: str,
    parameters: dict,
    trigger: str,
    organization=None,
    user=None,
    executed_by_name: str | None = None,
    form=None,
    rerun_of=None,
    mode: str | None = None,
    idempotency: Idempotency | None = None,
    run_at: datetime.datetime | None = None,
    schedule=None,
    parent_execution=None,
) -> StartedExecution:
    """The one way to start a run (execute, form submit, webhook, schedule, rerun, `run_workflow`).

    Validate, admit (executions.admission: limits, quota) and create the row: `Pending` and published
    after commit when under the limits, `Pending` with a `waiting_reason` (not published) when over one,
    `Scheduled` when `run_at` defers it. `mode` ("sync"/"async") overrides the workflow's own execution
    mode (`run_workflow --sync`). With `idempotency`, a key already used by the same caller within 24 hours
    answers the original run (`replayed`), or 422 when the body differs.

    404 unknown workflow, 409 unavailable, 400 bad parameters ({field: [messages]}), 422 reused key,
    429 monthly quota used, 503 broker unreachable (the row is then Failed/BrokerUnavailable).
    """
    if executed_by_name is None:
        executed_by_name = getattr(user, "email", "") if user is not None else "system"
    workflow = _runnable_workflow(str(workflow_name))
    try:
        coerced = coerce_parameters(workflow.parameters, parameters)
    except ParameterValidationError as exc:
        raise ValidationError(exc.errors) from None
    mode = mode or effective_mode(workflow.execution_mode, trigger)
    timeout_seconds = workflow.timeout_seconds
    with transaction.atomic():
        record = None
        if idempotency is not None:
            record, original = _idempotency_claim(idempotency)
            if original is not None:
                return StartedExecution(execution=original, mode=mode, timeout_seconds=timeout_seconds, replayed=True)
        active = admission.lock_and_count_organization(getattr(organization, "id", None))
        admission.quota_check(organization)
        approval = approval_required(workflow=workflow, form=form, organization=organization)
        if approval is not None:  # created AwaitingApproval; approving it admits the run (approvals.services)
            if run_at is not None:
                raise ValidationError({"run_at": ["A run that needs approval cannot be deferred."]})
            status, reason = S.AWAITING_APPROVAL, WaitingReason.NONE
        elif run_at is not None:
            status, reason = S.SCHEDULED, WaitingReason.NONE
        else:
            status = S.PENDING
            reason = admission.admit(organization=organization, workflow=workflow, active=active)
        execution = Execution.objects.create(
            workflow_name=workflow.name,
            status=status,
            waiting_reason=reason,
            scheduled_for=run_at,
            parameters=coerced,
            celery_task_id=str(uuid.uuid4()),
            organization=organization,
            form=form,
            trigger=trigger,
            executed_by=user if getattr(user, "is_authenticated", False) else None,
            executed_by_name=executed_by_name,
            rerun_of=rerun_of,
            schedule=schedule,
            parent_execution=parent_execution,
            idempotency_key=idempotency.key_hash if idempotency else "",
        )
        if record is not None:
            record.execution = execution
            record.save(update_fields=["execution"])
        if approval is not None:
            approval_request(execution=execution, policy=approval, user=user)
            return StartedExecution(execution=execution, mode="async", timeout_seconds=timeout_seconds)
    if run_at is not None:
        transaction.on_commit(lambda: _publish_admit_at(execution.id, run_at))
        return StartedExecution(execution=execution, mode="async", timeout_seconds=timeout_seconds)
    if not reason:
        task_id = execution.celery_task_id
        transaction.on_commit(lambda: _publish(execution.id, task_id, timeout_seconds, awaited=mode == "sync"))
    return StartedExecution(execution=execution, mode=mode, timeout_seconds=timeout_seconds)


def _idempotency_claim(idempotency: Idempotency) -> tuple[IdempotencyKey | None, Execution | None]:
    """(the new key row, None), or (None, the original execution) for a key used within 24 hours.

    The unique constraint decides: of two concurrent requests with one key, the second INSERT waits for the
    first transaction and then fails, and reads the first one's execution."""
    now = timezone.now()
    mine = IdempotencyKey.objects.filter(caller=idempotency.caller, key_hash=idempotency.key_hash)
    mine.filter(created_at__lt=now - IDEMPOTENCY_WINDOW).delete()
    try:
        with transaction.atomic():
            return (
                IdempotencyKey.objects.create(
                    caller=idempotency.caller, key_hash=idempotency.key_hash, body_hash=idempotency.body_hash
                ),
                None,
            )
    except IntegrityError:
        existing = mine.select_related("execution").first()
    if existing is None or existing.execution is None:  # expired and removed meanwhile: let the client retry
        raise ConflictError("A request with this Idempotency-Key is being processed; retry shortly.")
    if existing.body_hash != idempotency.body_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request body; use a new key for a new run.",
            details={"execution_id": str(existing.execution_id)},
        )
    return None, existing.execution


def idempotency_prune(*, now=None) -> int:
    """Delete keys older than the 24-hour window (hourly, bifrost_site.periodic)."""
    now = now or timezone.now()
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=now - IDEMPOTENCY_WINDOW).delete()
    return deleted


def publish_admitted(execution: Execution) -> bool:
    """Publish a run the dispatcher (or a deferred run's admission) just admitted. If the broker is
    unreachable the run goes back to waiting, for the periodic pass to publish later."""
    from workflows.models import Workflow

    workflow = Workflow.objects.filter(name=execution.workflow_name).only("execution_mode", "timeout_seconds").first()
    timeout_seconds = workflow.timeout_seconds if workflow else 1800
    mode = effective_mode(workflow.execution_mode if workflow else None, execution.trigger)
    try:
        publish_run(
            execution.id, task_id=execution.celery_task_id, timeout_seconds=timeout_seconds, awaited=mode == "sync"
        )
    except Exception as exc:
        logger.error("could not publish admitted execution %s (%s); it waits for the next pass", execution.id, exc)
        Execution.objects.filter(id=execution.id, status=S.PENDING, waiting_reason="").update(
            waiting_reason=WaitingReason.ORGANIZATION_CONCURRENCY, updated_at=timezone.now()
        )
        return False
    return True


# --- deferred runs (run_at) ---------------------------------------------------------------------


def _publish_admit_at(execution_id, run_at: datetime.datetime) -> None:
    if run_at - timezone.now() > DEFER_PUBLISH_WINDOW:
        return  # the periodic pass publishes it when it comes due
    from executions.tasks import admit_scheduled_task

    try:
        admit_scheduled_task.apply_async(args=[str(execution_id)], eta=run_at)
    except Exception as exc:  # the periodic pass admits it
        logger.warning("could not publish the admission of deferred run %s: %s", execution_id, exc)


def execution_admit_scheduled(*, execution_id) -> Execution | None:
    """Scheduled → Pending at its time: admitted and published, or waiting (executions.admission).
    None when the row is no longer Scheduled (cancelled, admitted by the other path)."""
    from workflows.models import Workflow

    with transaction.atomic():
        row = (
            Execution.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("organization")
            .filter(id=execution_id, status=S.SCHEDULED)
            .first()
        )
        if row is None:
            return None
        workflow = Workflow.objects.filter(name=row.workflow_name).first()
        reason = admission.admit(organization=row.organization, workflow=workflow) if workflow is not None else ""
        admitted = transitions.transition(row.id, from_statuses={S.SCHEDULED}, to=S.PENDING, waiting_reason=reason)
        if admitted is not None and not reason:
            transaction.on_commit(lambda: publish_admitted(admitted))
    return admitted


def executions_admit_pass(*, now=None) -> dict:
    """The periodic pass (beat, every 30 s): admit deferred runs that are due, publish an `eta` admission
    for those due before the next pass, and publish waiting runs a lost wake-up left behind."""
    from executions.tasks import admit_scheduled_task

    now = now or timezone.now()
    counts = {"scheduled_admitted": 0, "scheduled_published": 0, "waiting_admitted": 0}
    due = Execution.objects.filter(status=S.SCHEDULED, scheduled_for__lte=now).order_by("scheduled_for")
    for execution_id in due.values_list("id", flat=True)[:1000]:
        if execution_admit_scheduled(execution_id=execution_id) is not None:
            counts["scheduled_admitted"] += 1
    soon = Execution.objects.filter(
        status=S.SCHEDULED, scheduled_for__gt=now, scheduled_for__lte=now + datetime.timedelta(seconds=90)
    )
    for execution_id, scheduled_for in soon.values_list("id", "scheduled_for")[:1000]:
        try:
            admit_scheduled_task.apply_async(args=[str(execution_id)], eta=scheduled_for)
            counts["scheduled_published"] += 1
        except Exception as exc:
            logger.warning("could not publish the admission of deferred run %s: %s", execution_id, exc)
            break
    counts["waiting_admitted"] = len(admission.admission_dispatch().admitted)
    return counts


def _apply_task_answer(execution: Execution, answer) -> bool:
    """Take the finished row's fields from the run task's answer (executions.engine.runner.task_answer)."""
    fields = answer.get("execution") if isinstance(answer, dict) else None
    if not isinstance(fields, dict) or fields.get("status") not in FINISHED_STATUSES:
        return False
    for name, value in fields.items():
        setattr(execution, name, value)
    return True


def execution_await(started: StartedExecution) -> Execution:
    """Sync mode: wait for the run's outcome up to min(workflow timeout, SYNC_WAIT_SECONDS); return the row.

    The outcome comes the one way a worker tells the web process (executions.answers): a Redis list the
    run task pushes to. The row is read after every SYNC_ANSWER_POLL_SECONDS without an answer, so a run
    that never answers (its worker lost, Redis down or restarted) still ends the wait.
    """
    from executions import answers

    execution = started.execution
    if started.mode != "sync":
        return execution
    deadline = time.monotonic() + min(started.timeout_seconds, settings.SYNC_WAIT_SECONDS)
    task_id = execution.celery_task_id
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        wait = min(remaining, settings.SYNC_ANSWER_POLL_SECONDS)
        try:
            answer = answers.wait_answer(task_id, timeout=wait)
        except Exception as exc:  # Redis is down: the database is the source of truth
            logger.warning("Redis unavailable while awaiting %s (%s); reading the row", execution.id, exc)
            time.sleep(min(wait, ROW_POLL_SECONDS))
            answer = None
        if _apply_task_answer(execution, answer):
            return execution
        execution.refresh_from_db()
        if execution.is_complete or (answer is not None and execution.celery_task_id == task_id):
            return execution
        task_id = execution.celery_task_id  # a retry re-queued it under a new task id
    execution.refresh_from_db()
    return execution


def execution_cancel(*, execution: Execution, user) -> Execution:
    """Pending → Cancelled; Running → Cancelling + revoke (the worker ends it Cancelled); 400 if finished."""
    from bifrost_site.celery import app

    before = execution.status
    cancelled = transitions.transition(
        execution.id,
        from_statuses={S.SCHEDULED},
        to=S.CANCELLED,
        error_type="Cancelled",
        error_message="The deferred execution was cancelled before its time.",
    ) or transitions.transition(
        execution.id,
        from_statuses={S.PENDING},
        to=S.CANCELLED,
        error_type="Cancelled",
        error_message="The execution was cancelled before it started.",
    )
    if cancelled is None and (
        cancelled := transitions.transition(
            execution.id,
            from_statuses={S.AWAITING_APPROVAL},
            to=S.CANCELLED,
            error_type="Cancelled",
            error_message="The execution was cancelled while it waited for approval.",
        )
    ):
        approval_cancel_for_execution(execution_id=execution.id)
    if cancelled is None:
        cancelled = transitions.transition(execution.id, from_statuses={S.RUNNING}, to=S.CANCELLING)
        if cancelled is None:
            current = Execution.objects.get(id=execution.id)
            if current.status == S.CANCELLING:
                return current
            raise ApplicationError(
                f"The execution is already finished ({current.status}).", details={"status": current.status}
            )
        try:
            app.control.revoke(cancelled.celery_task_id, terminate=True, signal=CANCEL_SIGNAL)
        except Exception:
            logger.warning("could not send revoke for %s; the cleanup task will finish it", execution.id, exc_info=True)
    else:
        try:
            app.control.revoke(cancelled.celery_task_id)
        except Exception:
            logger.info("could not send revoke for pending %s", execution.id)
    audit_record(
        action="execution.cancel",
        resource_type="execution",
        resource_id=execution.id,
        actor=user,
        organization=execution.organization_id,
        changes={"before": {"status": before}, "after": {"status": cancelled.status}},
    )
    return cancelled


def execution_rerun(*, execution: Execution, user) -> StartedExecution:
    """Run the same workflow with the same parameters in the same organization again."""
    started = execution_start(
        workflow_name=execution.workflow_name,
        parameters=dict(execution.parameters or {}),
        trigger=Trigger.RERUN,
        organization=execution.organization,
        user=user,
        form=execution.form,
        rerun_of=execution,
    )
    audit_record(
        action="execution.rerun",
        resource_type="execution",
        resource_id=started.execution.id,
        actor=user,
        organization=execution.organization_id,
        changes={"after": {"rerun_of": str(execution.id)}},
    )
    return started


def executions_cleanup_stuck(*, now=None) -> dict:
    """Beat, every 5 minutes: end executions nothing will ever finish."""
    from executions.engine.logs import log_line
    from workflows.models import Workflow

    now = now or timezone.now()
    counts = {"pending_timeout": 0, "running_timeout": 0, "cancelling_cancelled": 0}

    def finish(execution_id, from_status, to, error_type, message, key):
        if transitions.transition(
            execution_id, from_statuses={from_status}, to=to, error_type=error_type, error_message=message
        ):
            log_line(execution_id, LogLevel.ERROR, message)
            counts[key] += 1

    # Runs waiting for an admission slot wait by design (the admission pass publishes them).
    for execution_id in Execution.objects.filter(
        status=S.PENDING, waiting_reason="", updated_at__lt=now - CLEANUP_PENDING_AFTER
    ).values_list("id", flat=True):
        finish(
            execution_id,
            S.PENDING,
            S.TIMEOUT,
            "Timeout",
            "Cleanup: the execution stayed Pending for more than 10 minutes (no worker picked it up).",
            "pending_timeout",
        )
    timeouts = dict(Workflow.objects.values_list("name", "timeout_seconds"))
    for execution_id, name, started_at in Execution.objects.filter(status=S.RUNNING).values_list(
        "id", "workflow_name", "started_at"
    ):
        limit = datetime.timedelta(seconds=timeouts.get(name, 1800)) + CLEANUP_RUNNING_GRACE
        if started_at is None or started_at < now - limit:
            finish(
                execution_id,
                S.RUNNING,
                S.TIMEOUT,
                "Timeout",
                "Cleanup: the execution ran past its timeout plus 5 minutes; its worker was killed or lost.",
                "running_timeout",
            )
    for execution_id in Execution.objects.filter(
        status=S.CANCELLING, updated_at__lt=now - CLEANUP_CANCELLING_AFTER
    ).values_list("id", flat=True):
        finish(
            execution_id,
            S.CANCELLING,
            S.CANCELLED,
            "Cancelled",
            "Cleanup: the worker did not confirm the cancel within 3 minutes; marked Cancelled.",
            "cancelling_cancelled",
        )
    return counts
