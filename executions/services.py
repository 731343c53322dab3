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
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from audit.services import audit_record
from bifrost.errors import ParameterValidationError
from bifrost.params import coerce_parameters
from bifrost_site.api.errors import ApplicationError, ConflictError, ServiceUnavailableError
from executions import transitions
from executions.models import FINISHED_STATUSES, Execution, ExecutionStatus, LogLevel, Trigger

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

    workflow = Workflow.objects.filter(name=name).first()
    if workflow is None:
        raise NotFound(f"Workflow '{name}' does not exist.")
    if not workflow.is_available:
        raise ConflictError(f"Workflow '{name}' is unavailable.", details={"import_error": workflow.import_error})
    return workflow


@dataclass
class StartedExecution:
    execution: Execution
    mode: str  # "sync" | "async"
    timeout_seconds: int = 1800


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
) -> StartedExecution:
    """The one way to start a run (execute, form submit, webhook, schedule, rerun, `run_workflow`).

    Validate, create the Pending row and publish the run task after commit. `mode` ("sync"/"async")
    overrides the workflow's own execution mode (`run_workflow --sync`).

    404 unknown workflow, 409 unavailable, 400 bad parameters ({field: [messages]}),
    503 broker unreachable (the row is then Failed/BrokerUnavailable).
    """
    if executed_by_name is None:
        executed_by_name = getattr(user, "email", "") if user is not None else "system"
    workflow = _runnable_workflow(str(workflow_name))
    try:
        coerced = coerce_parameters(workflow.parameters, parameters)
    except ParameterValidationError as exc:
        raise ValidationError(exc.errors) from None
    execution = Execution.objects.create(
        workflow_name=workflow.name,
        status=S.PENDING,
        parameters=coerced,
        celery_task_id=str(uuid.uuid4()),
        organization=organization,
        form=form,
        trigger=trigger,
        executed_by=user if getattr(user, "is_authenticated", False) else None,
        executed_by_name=executed_by_name,
        rerun_of=rerun_of,
    )
    task_id = execution.celery_task_id
    mode = mode or effective_mode(workflow.execution_mode, trigger)
    timeout_seconds = workflow.timeout_seconds
    transaction.on_commit(lambda: _publish(execution.id, task_id, timeout_seconds, awaited=mode == "sync"))
    return StartedExecution(execution=execution, mode=mode, timeout_seconds=timeout_seconds)


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
        from_statuses={S.PENDING},
        to=S.CANCELLED,
        error_type="Cancelled",
        error_message="The execution was cancelled before it started.",
    )
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

    for execution_id in Execution.objects.filter(
        status=S.PENDING, updated_at__lt=now - CLEANUP_PENDING_AFTER
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
