"""Reads for the schedules, workspace jobs, packages and workflow keys APIs."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from workflows.models import ScheduleTick, Workflow, WorkflowKey, WorkspaceJob
from workflows.services import schedules


def scheduled_workflows():
    """Workflows with a schedule, annotated with their last scheduled run and run count (one query)."""
    from executions.models import Execution

    scheduled_runs = Execution.objects.filter(workflow_name=OuterRef("name"), trigger="schedule")
    latest = scheduled_runs.order_by("-created_at", "-id")
    run_count = scheduled_runs.order_by().values("workflow_name").annotate(n=Count("id")).values("n")[:1]
    last_tick = ScheduleTick.objects.filter(workflow_name=OuterRef("name")).order_by("-scheduled_for")
    return (
        Workflow.objects.exclude(schedule="")
        .annotate(
            last_execution_id=Subquery(latest.values("id")[:1]),
            last_execution_status=Subquery(latest.values("status")[:1]),
            last_execution_at=Subquery(latest.values("created_at")[:1]),
            run_count=Coalesce(Subquery(run_count, output_field=IntegerField()), Value(0)),
            last_tick_at=Subquery(last_tick.values("scheduled_for")[:1]),
            last_tick_outcome=Subquery(last_tick.values("outcome")[:1]),
        )
        .order_by("name")
    )


@dataclass
class ScheduleView:
    workflow: Workflow
    task: object | None
    cron: str
    timezone: str
    human_readable: str
    next_run: dt.datetime | None
    enabled: bool
    overdue: bool


def schedule_views(workflows, *, now: dt.datetime | None = None) -> list[ScheduleView]:
    """Join a page of annotated workflows with their PeriodicTasks (one more query)."""
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    workflows = list(workflows)
    tasks = {
        t.name: t
        for t in PeriodicTask.objects.filter(name__in=[schedules.periodic_task_name(w.name) for w in workflows])
    }
    views = []
    for workflow in workflows:
        task = tasks.get(schedules.periodic_task_name(workflow.name))
        enabled = bool(task and task.enabled and workflow.is_available)
        try:
            tz = zoneinfo.ZoneInfo(workflow.schedule_timezone or "UTC")
            next_run = schedules.next_runs(workflow.schedule, tz, count=1, after=now)[0] if enabled else None
            previous_due = schedules.previous_run(workflow.schedule, tz, before=now - schedules.OVERDUE_GRACE)
        except (ValueError, KeyError, zoneinfo.ZoneInfoNotFoundError):
            next_run, previous_due = None, None
        overdue = bool(
            enabled
            and previous_due is not None
            and task.date_changed is not None
            and previous_due > task.date_changed
            and (workflow.last_tick_at is None or workflow.last_tick_at < previous_due)
        )
        views.append(
            ScheduleView(
                workflow=workflow,
                task=task,
                cron=workflow.schedule,
                timezone=workflow.schedule_timezone,
                human_readable=schedules.human_readable(workflow.schedule),
                next_run=next_run,
                enabled=enabled,
                overdue=overdue,
            )
        )
    return views


def workspace_job_get(job_id) -> WorkspaceJob | None:
    return WorkspaceJob.objects.prefetch_related("logs").filter(id=job_id).first()


def workflow_keys():
    return WorkflowKey.objects.select_related("workflow", "created_by").order_by("-created_at", "-id")


# --- versions (DESIGN §20) ---


def workflow_versions(workflow: Workflow):
    """Every stored source of `workflow`, newest first."""
    from workflows.models import WorkflowVersion

    return WorkflowVersion.objects.filter(workflow=workflow).order_by("-created_at", "-id")


def execution_code_changed(execution) -> bool | None:
    """Whether the workflow's current source (as discovery last saw it) differs from the source `execution`
    ran; None when that run recorded no version (it never reached a worker, or predates versions)."""
    version = execution.workflow_version
    if version is None:
        return None
    current = Workflow.objects.filter(name=execution.workflow_name).values_list("source_hash", flat=True).first()
    return current != version.source_hash


def source_masker():
    """Masks every stored secret value (any organization) in workflow source shown to admins: code should
    read secrets through `secrets.get`, but a value pasted into a file must not be shown back (DESIGN §20)."""
    from bifrost.masking import SecretMasker
    from secrets_app.models import Secret

    return SecretMasker(Secret.objects.values_list("value", flat=True))


def execution_source(execution) -> dict:
    """The exact code `execution` ran (its WorkflowVersion) and how it compares with today's source."""
    version = execution.workflow_version
    current = Workflow.objects.filter(name=execution.workflow_name).values_list("source_hash", flat=True).first()
    return {
        "execution_id": execution.id,
        "workflow_name": execution.workflow_name,
        "version": version,
        "source": source_masker().mask(version.source) if version else None,
        "current_source_hash": current or None,
        "code_changed": None if version is None else current != version.source_hash,
    }
