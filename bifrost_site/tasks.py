from celery import shared_task


@shared_task(name="bifrost_site.ping")
def ping_task(payload: str = "pong") -> dict:
    """A no-op round trip: used by health checks, tests and the raw-Celery benchmark baseline."""
    return {"payload": payload}


@shared_task(name="bifrost_site.prune_execution_logs")
def prune_execution_logs_task() -> int:
    """Delete log lines of executions finished more than EXECUTION_LOG_RETENTION_DAYS ago."""
    from executions.maintenance import execution_logs_prune

    return execution_logs_prune()


@shared_task(name="bifrost_site.prune_workspace_jobs")
def prune_workspace_jobs_task() -> int:
    """Delete finished workspace jobs older than WORKSPACE_JOB_RETENTION_DAYS."""
    from django.conf import settings

    from workflows.jobs import workspace_jobs_prune

    return workspace_jobs_prune(older_than_days=settings.WORKSPACE_JOB_RETENTION_DAYS)
