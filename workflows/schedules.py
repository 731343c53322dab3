"""Workflow schedules on django-celery-beat (DESIGN §11).

Discovery calls `schedule_sync()`: every `Workflow` with a `schedule` gets one `PeriodicTask`
named `workflow:<name>` (a `CrontabSchedule` in the workflow's timezone) that sends
`workflows.run_scheduled_workflow(workflow_name=<name>)`. A schedule that was removed, or whose
workflow became unavailable, is disabled (kept, so its history and the admin's view survive).

Each tick is claimed in the database (`ScheduleTick`, unique per workflow and tick time) before
anything starts, so a second beat or a redelivered message cannot run the same tick twice. The
overlap policy `skip` records a `skipped_overlap` tick while the previous run is unfinished.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import zoneinfo
from dataclasses import dataclass

from celery.schedules import crontab as celery_crontab
from croniter import croniter
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
import audit.services
from workflows.models import OverlapPolicy, ScheduleTick, TickOutcome, Workflow

logger = logging.getLogger(__name__)

PERIODIC_TASK_PREFIX = "workflow:"
TICK_TASK_NAME = "workflows.run_scheduled_workflow"
SCHEDULER_NAME = "system:scheduler"
MANAGED_DESCRIPTION = "Schedule of workflow {name}; managed by discovery. Pause it here or through the API."
AUTO_DISABLED_PREFIX = "Disabled by discovery: "
SHORT_INTERVAL_SECONDS = 300
# A worker whose clock is slightly behind beat's still maps a tick to the minute beat meant.
CLOCK_SKEW = dt.timedelta(seconds=2)
# How late a tick may be before the schedule counts as overdue.
OVERDUE_GRACE = dt.timedelta(minutes=2)
UNFINISHED_STATUSES = ("Pending", "Running", "Cancelling")


def periodic_task_name(workflow_name: str) -> str:
    return f"{PERIODIC_TASK_PREFIX}{workflow_name}"


# --- parsing and validation -------------------------------------------------------------------


def cron_fields(expression: str) -> list[str]:
    """The five fields of a cron expression, or a 400 naming `expression`."""
    fields = (expression or "").split()
    if len(fields) != 5:
        raise exceptions.ValidationError(
            {"expression": [f"Use 5 fields (minute hour day-of-month month day-of-week); got {len(fields)}."]}
        )
    if not croniter.is_valid(" ".join(fields)):
        raise exceptions.ValidationError({"expression": [f"{expression!r} is not a valid cron expression."]})
    minute, hour, day_of_month, month, day_of_week = fields
    try:  # beat must be able to run it too
        celery_crontab(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month, day_of_week=day_of_week
        )
    except (ValueError, TypeError) as exc:
        raise exceptions.ValidationError({"expression": [f"Not supported by the scheduler: {exc}"]}) from exc
    return fields


def timezone_validate(name: str, *, field: str = "timezone") -> zoneinfo.ZoneInfo:
    if not name or name not in zoneinfo.available_timezones():
        raise exceptions.ValidationError({field: [f"{name!r} is not a known IANA time zone (e.g. Europe/Amsterdam)."]})
    return zoneinfo.ZoneInfo(name)


def human_readable(expression: str) -> str:
    from cron_descriptor import Options, get_description

    options = Options()
    options.use_24hour_time_format = True
    try:
        return get_description(expression, options)
    except Exception:  # cron-descriptor refuses a few forms croniter accepts
        return expression


def next_runs(expression: str, tz: zoneinfo.ZoneInfo, *, count: int = 5, after: dt.datetime | None = None):
    base = (after or timezone.now()).astimezone(tz)
    itr = croniter(expression, base)
    return [itr.get_next(dt.datetime) for _ in range(count)]


def previous_run(expression: str, tz: zoneinfo.ZoneInfo, *, before: dt.datetime) -> dt.datetime:
    """The latest cron time at or before `before` (in the schedule's zone), as an aware datetime."""
    return croniter(expression, before.astimezone(tz) + dt.timedelta(seconds=1)).get_prev(dt.datetime)


@dataclass(frozen=True)
class CronDescription:
    expression: str
    timezone: str
    human_readable: str
    next_runs: list[dt.datetime]
    interval_seconds: int | None
    warning: str | None


def schedule_describe(*, expression: str, timezone_name: str = "UTC") -> CronDescription:
    fields = cron_fields(expression)
    normalized = " ".join(fields)
    tz = timezone_validate(timezone_name)
    upcoming = next_runs(normalized, tz, count=6)
    gaps = [int((b - a).total_seconds()) for a, b in zip(upcoming, upcoming[1:], strict=False)]
    interval = min(gaps) if gaps else None
    warning = None
    if interval is not None and interval < SHORT_INTERVAL_SECONDS:
        warning = (
            f"Runs as often as every {interval // 60 or 1} minute(s); intervals under 5 minutes are allowed but "
            "can pile up runs. The overlap policy skips a tick while the previous run is unfinished."
        )
    return CronDescription(
        expression=normalized,
        timezone=timezone_name,
        human_readable=human_readable(normalized),
        next_runs=upcoming[:5],
        interval_seconds=interval,
        warning=warning,
    )


# --- syncing PeriodicTasks --------------------------------------------------------------------


def _crontab_for(expression: str, tz_name: str):
    from django_celery_beat.models import CrontabSchedule

    minute, hour, day_of_month, month, day_of_week = cron_fields(expression)
    tz = timezone_validate(tz_name, field="schedule_timezone")
    crontab = CrontabSchedule.objects.filter(
        minute=minute,
        hour=hour,
        day_of_month=day_of_month,
        month_of_year=month,
        day_of_week=day_of_week,
        timezone=tz,
    ).first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone=tz,
        )
    return crontab


def _disable(task, reason: str) -> bool:
    description = AUTO_DISABLED_PREFIX + reason
    if not task.enabled and task.description == description:
        return False
    task.enabled = False
    task.description = description
    task.save()
    return True


def _sync_one(workflow: Workflow, task, counts: dict) -> object | None:
    from django_celery_beat.models import PeriodicTask

    name = periodic_task_name(workflow.name)
    if not workflow.schedule:
        if task is not None and _disable(task, "the workflow no longer has a schedule."):
            counts["disabled"] += 1
        return task
    if not workflow.is_available:
        if task is not None and _disable(task, "the workflow is unavailable (its file vanished or fails to import)."):
            counts["disabled"] += 1
        return task
    try:
        crontab = _crontab_for(workflow.schedule, workflow.schedule_timezone or "UTC")
    except exceptions.ValidationError as exc:
        logger.warning("workflow %s has an invalid schedule %r: %s", workflow.name, workflow.schedule, exc.detail)
        if task is not None and _disable(task, f"invalid schedule {workflow.schedule!r}."):
            counts["disabled"] += 1
        return task

    kwargs = json.dumps({"workflow_name": workflow.name})
    description = MANAGED_DESCRIPTION.format(name=workflow.name)
    if task is None:
        counts["created"] += 1
        return PeriodicTask.objects.create(
            name=name, task=TICK_TASK_NAME, crontab=crontab, kwargs=kwargs, description=description, enabled=True
        )
    changed = False
    if task.crontab_id != crontab.id or task.interval_id or task.task != TICK_TASK_NAME or task.kwargs != kwargs:
        task.crontab, task.interval, task.task, task.kwargs = crontab, None, TICK_TASK_NAME, kwargs
        changed = True
    if task.description.startswith(AUTO_DISABLED_PREFIX):
        # Disabled by discovery earlier (schedule removed, workflow broken): it is back, so re-enable.
        # A pause by an admin (admin or API) keeps its description and stays paused.
        task.enabled = True
        task.description = description
        changed = True
    if changed:
        task.save()
        counts["updated"] += 1
    else:
        counts["unchanged"] += 1
    return task


@transaction.atomic
def schedule_sync(*, workflow_names: list[str] | None = None) -> dict:
    """Create, update or disable the PeriodicTask of every workflow (or the named ones)."""
    from django_celery_beat.models import PeriodicTask

    counts = {"created": 0, "updated": 0, "disabled": 0, "unchanged": 0}
    workflows = Workflow.objects.all()
    tasks = PeriodicTask.objects.select_for_update().filter(name__startswith=PERIODIC_TASK_PREFIX)
    if workflow_names is not None:
        workflows = workflows.filter(name__in=workflow_names)
        tasks = tasks.filter(name__in=[periodic_task_name(n) for n in workflow_names])
    existing = {task.name: task for task in tasks}
    for workflow in workflows:
        _sync_one(workflow, existing.pop(periodic_task_name(workflow.name), None), counts)
    if workflow_names is None:
        for task in existing.values():  # the workflow row itself is gone
            if _disable(task, "the workflow no longer exists."):
                counts["disabled"] += 1
    logger.info("schedule sync: %s", counts)
    return counts


# --- ticks ------------------------------------------------------------------------------------


def tick_time(*, workflow_name: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """The tick beat meant: the crontab's last due time at or before now (truncated to the minute)."""
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    task = PeriodicTask.objects.select_related("crontab").filter(name=periodic_task_name(workflow_name)).first()
    if task is not None and task.crontab is not None:
        c = task.crontab
        expression = f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"
        tz = zoneinfo.ZoneInfo(str(c.timezone))
    else:
        workflow = Workflow.objects.filter(name=workflow_name).only("schedule", "schedule_timezone").first()
        if workflow is None or not workflow.schedule:
            return None
        expression, tz = workflow.schedule, zoneinfo.ZoneInfo(workflow.schedule_timezone or "UTC")
    due = previous_run(expression, tz, before=now + CLOCK_SKEW)
    return due.replace(second=0, microsecond=0).astimezone(dt.UTC)


def tick_claim(*, workflow_name: str, scheduled_for: dt.datetime) -> ScheduleTick | None:
    """Claim a tick; None when it was claimed already (a second beat, a redelivered message)."""
    try:
        with transaction.atomic():
            return ScheduleTick.objects.create(workflow_name=workflow_name, scheduled_for=scheduled_for)
    except IntegrityError:
        return None


def previous_unfinished_execution(workflow_name: str, *, before: ScheduleTick):
    """The execution of this schedule's latest started tick, when it has not finished."""
    from executions.models import Execution

    previous = (
        ScheduleTick.objects.filter(workflow_name=workflow_name, outcome=TickOutcome.STARTED, execution__isnull=False)
        .exclude(id=before.id)
        .order_by("-scheduled_for")
        .values_list("execution_id", flat=True)
        .first()
    )
    if previous is None:
        return None
    return Execution.objects.filter(id=previous, status__in=UNFINISHED_STATUSES).first()


def _record(tick: ScheduleTick, outcome: str, detail: str = "", execution=None) -> dict:
    tick.outcome = outcome
    tick.detail = detail
    tick.execution = execution
    tick.save(update_fields=["outcome", "detail", "execution", "updated_at"])
    logger.info("schedule tick %s %s: %s %s", tick.workflow_name, tick.scheduled_for, outcome, detail)
    return {
        "outcome": outcome,
        "workflow_name": tick.workflow_name,
        "scheduled_for": tick.scheduled_for.isoformat(),
        "execution_id": str(execution.id) if execution is not None else None,
        "detail": detail,
    }


def schedule_tick_run(
    *, workflow_name: str, now: dt.datetime | None = None, scheduled_for: dt.datetime | None = None
) -> dict:
    """Handle one beat tick: claim it, apply the overlap policy, start the execution."""
    scheduled_for = scheduled_for or tick_time(workflow_name=workflow_name, now=now)
    if scheduled_for is None:
        logger.warning("tick for %s ignored: no such scheduled workflow", workflow_name)
        return {"outcome": "ignored", "workflow_name": workflow_name, "detail": "no such scheduled workflow"}
    tick = tick_claim(workflow_name=workflow_name, scheduled_for=scheduled_for)
    if tick is None:
        logger.info("tick %s %s already claimed; nothing to do", workflow_name, scheduled_for)
        return {"outcome": "duplicate", "workflow_name": workflow_name, "scheduled_for": scheduled_for.isoformat()}

    workflow = Workflow.objects.filter(name=workflow_name).first()
    if workflow is None or not workflow.is_available or not workflow.schedule:
        return _record(tick, TickOutcome.SKIPPED_UNAVAILABLE, "The workflow is unavailable or has no schedule.")
    if workflow.schedule_overlap == OverlapPolicy.SKIP:
        running = previous_unfinished_execution(workflow_name, before=tick)
        if running is not None:
            return _record(
                tick,
                TickOutcome.SKIPPED_OVERLAP,
                f"The previous run {running.id} is still {running.status}.",
                execution=None,
            )

    from executions.services import execution_start

    try:
        started = execution_start(
            workflow_name=workflow_name,
            parameters={},
            trigger="schedule",
            organization=None,
            user=None,
            executed_by_name=SCHEDULER_NAME,
        )
    except exceptions.APIException as exc:
        return _record(tick, TickOutcome.SKIPPED_UNAVAILABLE, f"Could not start: {exc.detail}")
    return _record(tick, TickOutcome.STARTED, execution=started.execution)


# --- admin/API operations ---------------------------------------------------------------------


def _scheduled_workflow(name: str) -> Workflow:
    workflow = Workflow.objects.filter(name=name).exclude(schedule="").first()
    if workflow is None:
        raise exceptions.NotFound(f"No scheduled workflow named {name!r}.")
    return workflow


@transaction.atomic
def schedule_update(*, workflow_name: str, enabled: bool | None = None, timezone_name: str | None = None):
    """Pause/resume a schedule, or change its time zone (until discovery re-reads the decorator)."""
    from django_celery_beat.models import PeriodicTask

    workflow = _scheduled_workflow(workflow_name)
    task = PeriodicTask.objects.filter(name=periodic_task_name(workflow.name)).first()
    before = {"enabled": task.enabled if task else None, "timezone": workflow.schedule_timezone}
    if timezone_name is not None and timezone_name != workflow.schedule_timezone:
        timezone_validate(timezone_name)
        workflow.schedule_timezone = timezone_name
        workflow.save(update_fields=["schedule_timezone", "updated_at"])
    counts = {"created": 0, "updated": 0, "disabled": 0, "unchanged": 0}
    task = _sync_one(workflow, task, counts)
    if task is None:
        raise exceptions.ValidationError({"workflow": ["This workflow's schedule cannot be activated."]})
    if enabled is not None:
        if enabled and not workflow.is_available:
            from bifrost_site.api.errors import ConflictError

            raise ConflictError("The workflow is unavailable; fix it before resuming its schedule.")
        task.enabled = enabled
        task.description = MANAGED_DESCRIPTION.format(name=workflow.name)
        task.save()
    after = {"enabled": task.enabled, "timezone": workflow.schedule_timezone}
    audit.record(
        action="schedule.update",
        resource_type="schedule",
        resource_id=workflow.name,
        changes=audit.services.diff(before, after),
    )
    return workflow


def schedule_trigger(*, workflow_name: str, user, organization=None, parameters: dict | None = None):
    """Run a scheduled workflow now, as the admin who asked (trigger=manual)."""
    workflow = _scheduled_workflow(workflow_name)
    from executions.services import execution_start

    started = execution_start(
        workflow_name=workflow.name,
        parameters=parameters or {},
        trigger="manual",
        organization=organization,
        user=user,
        executed_by_name=getattr(user, "email", None),
    )
    audit.record(
        action="schedule.trigger",
        resource_type="schedule",
        resource_id=workflow.name,
        organization=organization,
        changes={"after": {"execution_id": str(started.execution.id)}},
    )
    return started
