"""Celery tasks of the workflows app (thin: ids in, call a service)."""

from celery import shared_task

import workflows.worker_hooks  # noqa: F401  (discovery at worker start, workspace watcher)


@shared_task(name="workflows.discover_workflows", max_retries=0)
def discover_workflows_task(job_id: str | None = None) -> dict:
    """Import the workspace and write the registry; with `job_id`, record it on that WorkspaceJob."""
    from workflows.services import discovery_run, workspace_job_discovery_run

    if job_id:
        return workspace_job_discovery_run(job_id=job_id)
    return discovery_run(reason="task")
