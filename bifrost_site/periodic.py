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
        name="executions: cleanup stuck executions",
        task="executions.cleanup_stuck_executions",
        every_seconds=300,  # every 5 minutes
        description="Pending > 10 min or Running past timeout + 5 min → Timeout; Cancelling > 3 min → Cancelled.",
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
