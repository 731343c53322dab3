"""Celery tasks of the execution engine (thin: ids in, call the engine or a service).

Queues come from the task routes in settings; acks, time limits and retries are set here, once.
"""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from celery.exceptions import Reject

from executions import answers

logger = logging.getLogger(__name__)


def _publish_retry(execution, countdown, task_id, timeout_seconds) -> None:
    from executions.services import publish_run

    publish_run(execution.id, task_id=task_id, timeout_seconds=timeout_seconds, countdown=countdown)


@shared_task(
    bind=True,
    name="executions.run_execution",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,
    ignore_result=True,
)
def run_execution_task(self, execution_id: str, answer: bool = False) -> None:
    """Runs one execution. The row is the record; a sync caller (`answer`) gets the outcome through
    executions.answers. Returns nothing, so Celery stores and logs no workflow result."""
    try:
        execution_id = str(uuid.UUID(str(execution_id)))
    except (TypeError, ValueError):
        raise Reject(f"not an execution id: {execution_id!r}", requeue=False) from None
    from executions.engine.runner import execute

    outcome = {"status": None}  # what a caller gets if the engine itself fails: it reads the row
    try:
        outcome = execute(execution_id, task_id=self.request.id or "", publish_retry=_publish_retry, answer=answer)
    finally:
        if answer and self.request.id:
            _push_answer(self.request.id, outcome)


@shared_task(
    bind=True,
    name="executions.run_data_provider",
    acks_late=False,
    max_retries=0,
    soft_time_limit=60,
    time_limit=75,
    ignore_result=True,
)
def run_data_provider_task(self, name: str, inputs: dict, organization_id: str | None) -> None:
    """Runs a data provider; its caller gets the options through executions.answers."""
    from executions.engine.providers import run_data_provider

    outcome = {"error": "The data provider failed in the worker."}
    try:
        outcome = run_data_provider(name=name, inputs=inputs or {}, organization_id=organization_id)
    finally:
        if self.request.id:
            _push_answer(self.request.id, outcome)


def _push_answer(task_id: str, outcome: dict) -> None:
    try:
        answers.push_answer(task_id, outcome)
    except Exception as exc:  # an execution's caller reads the row instead (executions.services.execution_await)
        logger.warning("could not leave the answer of task %s in Redis: %s", task_id, exc)


@shared_task(name="executions.cleanup_stuck_executions", max_retries=0)
def cleanup_stuck_executions_task() -> dict:
    from executions.services import executions_cleanup_stuck

    return executions_cleanup_stuck()


@shared_task(name="executions.admit_scheduled", max_retries=0, ignore_result=True)
def admit_scheduled_task(execution_id: str) -> None:
    """A deferred run's time came (published with `eta`): Scheduled → Pending, admitted or waiting."""
    from executions.services import execution_admit_scheduled

    execution_admit_scheduled(execution_id=execution_id)


@shared_task(name="executions.admit_waiting", max_retries=0)
def admit_waiting_task() -> dict:
    """The admission safety net (beat, every 30 s): due deferred runs and runs a lost wake-up left waiting."""
    from executions.services import executions_admit_pass

    return executions_admit_pass()


@shared_task(name="executions.prune_idempotency_keys", max_retries=0)
def prune_idempotency_keys_task() -> int:
    from executions.services import idempotency_prune

    return idempotency_prune()


# Registered under its first name, so beat's rows and the route (the `default` queue) stay as they were.
@shared_task(name="bifrost_site.prune_execution_logs")
def prune_execution_logs_task() -> int:
    """Delete log lines of executions finished more than EXECUTION_LOG_RETENTION_DAYS ago."""
    from executions.maintenance import execution_logs_prune

    return execution_logs_prune()
