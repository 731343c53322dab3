"""Periodic tasks declared in code and upserted into django-celery-beat at start.

Apps add their entries to PERIODIC_TASKS; `manage.py setup_periodic_tasks` writes them.
Workflow schedules are separate: discovery manages those (`workflow:<name>`).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PeriodicSpec:
    name: str
    task: str
    every_seconds: int
    description: str
    kwargs: dict = field(default_factory=dict)


PERIODIC_TASKS: list[PeriodicSpec] = [
    PeriodicSpec(
        name="oauth: refresh expiring tokens",
        task="oauth_app.refresh_expiring_tokens",
        every_seconds=15 * 60,  # every 15 minutes
        description="Refresh completed OAuth connections whose token expires within 30 minutes (DESIGN §8).",
    ),
    PeriodicSpec(
        name="maintenance: prune execution logs",
        task="bifrost_site.prune_execution_logs",
        every_seconds=3600,
        description="Delete log lines of executions finished more than EXECUTION_LOG_RETENTION_DAYS ago.",
    ),
    PeriodicSpec(
        name="maintenance: prune workspace jobs",
        task="bifrost_site.prune_workspace_jobs",
        every_seconds=3600,
        description="Delete finished workspace jobs older than WORKSPACE_JOB_RETENTION_DAYS.",
    ),
    PeriodicSpec(
        name="workspace: periodic git sync",
        task="workflows.git_sync_periodic",
        every_seconds=60,
        description="Sync the workspace repository when sync_interval_minutes has passed (no-op when unset).",
    ),
    PeriodicSpec(
        name="forms: prune uploads",
        task="forms_app.prune_uploads",
        every_seconds=3600,
        description="Delete form uploads older than UPLOAD_RETENTION_DAYS.",
    ),
    PeriodicSpec(
        name="accounts: prune revoked access tokens",
        task="accounts.prune_revoked_access_tokens",
        every_seconds=3600,
        description="Delete revocations of access tokens that have expired anyway.",
    ),
    PeriodicSpec(
        name="executions: cleanup stuck executions",
        task="executions.cleanup_stuck_executions",
        every_seconds=300,  # every 5 minutes
        description="Pending > 10 min or Running past timeout + 5 min → Timeout; Cancelling > 3 min → Cancelled.",
    ),
    PeriodicSpec(
        name="executions: admission pass",
        task="executions.admit_waiting",
        every_seconds=30,
        description="Admit deferred runs that are due and waiting runs a lost wake-up left behind (DESIGN §15).",
    ),
    PeriodicSpec(
        name="executions: prune idempotency keys",
        task="executions.prune_idempotency_keys",
        every_seconds=3600,
        description="Delete Idempotency-Key records older than 24 hours.",
    ),
    PeriodicSpec(
        name="approvals: expire requests",
        task="approvals.expire_approvals",
        every_seconds=60,
        description="Pending approvals past their time → expired; their runs end Expired (DESIGN §16).",
    ),
]


def upsert_periodic_tasks() -> list[tuple[str, bool]]:
    import json

    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    results = []
    for spec in PERIODIC_TASKS:
        interval, _ = IntervalSchedule.objects.get_or_create(every=spec.every_seconds, period=IntervalSchedule.SECONDS)
        _, created = PeriodicTask.objects.update_or_create(
            name=spec.name,
            defaults={
                "task": spec.task,
                "interval": interval,
                "crontab": None,
                "kwargs": json.dumps(spec.kwargs),
                "description": spec.description,
            },
        )
        results.append((spec.name, created))
    return results
