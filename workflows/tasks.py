"""Celery tasks of the workflows app ("workflows.*" routes to the `workspace` queue): thin, ids in, call a service."""

from celery import shared_task


@shared_task(name="workflows.discover_workflows", max_retries=0)
def discover_workflows_task(job_id: str | None = None) -> dict:
    """Import the workspace and write the registry; with `job_id`, record it on that WorkspaceJob."""
    from workflows.services import discovery_run, workspace_job_discovery_run

    if job_id:
        return workspace_job_discovery_run(job_id=job_id)
    return discovery_run(reason="task")


@shared_task(name="workflows.run_scheduled_workflow", acks_late=True, reject_on_worker_lost=True)
def run_scheduled_workflow_task(
    workflow_name: str | None = None, scheduled_for: str | None = None, schedule_id: str | None = None
) -> dict:
    """One beat tick of a schedule (`schedule_id`, or a workflow's default schedule by `workflow_name`). The tick
    is claimed in the database, so a redelivery or a second beat does nothing."""
    import datetime as dt

    from workflows.services.schedules import schedule_tick_run

    when = dt.datetime.fromisoformat(scheduled_for) if scheduled_for else None
    return schedule_tick_run(workflow_name=workflow_name, schedule_id=schedule_id, scheduled_for=when)


@shared_task(name="workflows.git_sync", acks_late=True, reject_on_worker_lost=True)
def git_sync_task(job_id: str) -> str | None:
    from workflows.services.git_sync import git_sync_run

    job = git_sync_run(job_id=job_id)
    return job.status if job else None


@shared_task(name="workflows.git_sync_periodic")
def git_sync_periodic_task() -> str | None:
    from workflows.services.git_sync import git_sync_if_due

    job = git_sync_if_due()
    return str(job.id) if job else None


@shared_task(name="workflows.install_packages", acks_late=True, reject_on_worker_lost=True)
def install_packages_task(job_id: str) -> str | None:
    from workflows.services.packages import package_install_run

    job = package_install_run(job_id=job_id)
    return job.status if job else None


# Registered under its first name, so beat's rows and the route (the `default` queue) stay as they were.
@shared_task(name="bifrost_site.prune_workspace_jobs")
def prune_workspace_jobs_task() -> int:
    """Delete finished workspace jobs older than WORKSPACE_JOB_RETENTION_DAYS."""
    from django.conf import settings

    from workflows.services.jobs import workspace_jobs_prune

    return workspace_jobs_prune(older_than_days=settings.WORKSPACE_JOB_RETENTION_DAYS)
