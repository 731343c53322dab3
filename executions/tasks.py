"""Celery tasks of the execution engine (thin: ids in, call the engine or a service)."""

from __future__ import annotations

import uuid

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import task_postrun

import executions.engine.poison  # noqa: F401  (connects the task_rejected handler in workers)


def publish_run(
    execution_id, *, task_id: str, timeout_seconds: int, countdown: float | None = None, awaited: bool = True
) -> None:
    """Queue the run. `awaited=False` (an async execution nobody waits for) stores no Celery result:
    the database row is the record, and the result backend write would be wasted."""
    from executions.engine.runner import time_limits

    soft, hard = time_limits(timeout_seconds)
    run_execution_task.apply_async(
        args=[str(execution_id)],
        task_id=task_id,
        soft_time_limit=soft,
        time_limit=hard,
        countdown=countdown or None,
        retry=True,
        ignore_result=not awaited,
    )


def _publish_retry(execution, countdown, task_id, timeout_seconds) -> None:
    publish_run(execution.id, task_id=task_id, timeout_seconds=timeout_seconds, countdown=countdown)


@shared_task(
    bind=True,
    name="executions.run_execution",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=0,
    ignore_result=False,
)
def run_execution_task(self, execution_id: str) -> dict:
    try:
        execution_id = str(uuid.UUID(str(execution_id)))
    except (TypeError, ValueError):
        raise Reject(f"not an execution id: {execution_id!r}", requeue=False) from None
    from executions import events
    from executions.engine.runner import execute

    # Status and log events of this run are queued without waiting; the task_postrun handler
    # below waits for them after Celery has stored the result (the sync caller is not held up).
    events.defer_broadcasts()
    return execute(execution_id, task_id=self.request.id or "", publish_retry=_publish_retry)


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
