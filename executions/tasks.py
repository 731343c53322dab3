"""Celery tasks of the execution engine (thin: ids in, call the engine or a service)."""

from __future__ import annotations

import logging
import uuid

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import task_postrun

import executions.engine.poison  # noqa: F401  (connects the task_rejected handler in workers)
from bifrost_site.task_publisher import TaskPublisher
from executions import answers

logger = logging.getLogger(__name__)


def publish_run(
    execution_id, *, task_id: str, timeout_seconds: int, countdown: float | None = None, awaited: bool = True
) -> None:
    """Queue the run. An `awaited` run (a sync caller waits for it) leaves its answer in Redis
    (executions.answers); no run stores a Celery result: the database row is the record."""
    from executions.engine.runner import time_limits

    soft, hard = time_limits(timeout_seconds)
    run_publisher.publish(
        [str(execution_id)],
        {"answer": True} if awaited else None,
        task_id=task_id,
        soft_time_limit=soft,
        time_limit=hard,
        countdown=countdown or None,
        retry=True,
    )


def _publish_retry(execution, countdown, task_id, timeout_seconds) -> None:
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
    """Returns nothing: the row is the record and a sync caller's answer goes through Redis. Celery's
    worker would otherwise repr the return value on every run, and its INFO log line would carry the
    workflow's result."""
    try:
        execution_id = str(uuid.UUID(str(execution_id)))
    except (TypeError, ValueError):
        raise Reject(f"not an execution id: {execution_id!r}", requeue=False) from None
    from executions import events
    from executions.engine.runner import execute

    # Status and log events of this run are queued without waiting; the task_postrun handler
    # below sends them after the answer went out (a sync caller is not held up by them).
    events.defer_broadcasts()
    outcome = {"status": None}  # what a caller gets if the engine itself fails: it reads the row
    try:
        outcome = execute(execution_id, task_id=self.request.id or "", publish_retry=_publish_retry, answer=answer)
    finally:
        if answer and self.request.id:
            _push_answer(self.request.id, execution_id, outcome)


run_publisher = TaskPublisher(run_execution_task)


def _push_answer(task_id: str, execution_id: str, outcome: dict) -> None:
    try:
        answers.push_answer(task_id, outcome)
    except Exception as exc:  # the caller reads the row instead (executions.services.execution_await)
        logger.warning("could not leave the answer of %s in Redis: %s", execution_id, exc)


@task_postrun.connect
def _flush_broadcasts(sender=None, **kwargs):
    if getattr(sender, "name", None) == "executions.run_execution":
        from executions import events

        events.flush_broadcasts()


@shared_task(name="executions.run_data_provider", acks_late=False, max_retries=0, soft_time_limit=60, time_limit=75)
def run_data_provider_task(name: str, inputs: dict, organization_id: str | None) -> dict:
    from executions.engine.providers import run_data_provider

    return run_data_provider(name=name, inputs=inputs or {}, organization_id=organization_id)


@shared_task(name="executions.cleanup_stuck_executions", max_retries=0)
def cleanup_stuck_executions_task() -> dict:
    from executions.services import executions_cleanup_stuck

    return executions_cleanup_stuck()
