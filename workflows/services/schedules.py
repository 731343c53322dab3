"""Workflow schedules on django-celery-beat (DESIGN §11, §15).

Schedules are rows (`Schedule`): per organization or GLOBAL, with a target (`organization`, `global`,
`each_organization`: one run per active organization at every tick), parameters, an overlap policy.
Beat integration (decision): one `PeriodicTask` per schedule row, each sending the one tick task
`workflows.run_scheduled_workflow`; a workflow's default schedule (from `@workflow(schedule=...)`) keeps its
beat entry `workflow:<name>` (kwargs `workflow_name`), every other schedule has `schedule:<id>` (kwargs
`schedule_id`). Beat keeps evaluating cron and time zones; the database keeps deciding what runs.

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
from workflows.models import OverlapPolicy, Schedule, ScheduleTarget, ScheduleTick, TickOutcome, Workflow

logger = logging.getLogger(__name__)

PERIODIC_TASK_PREFIX = "workflow:"
ROW_TASK_PREFIX = "schedule:"
ROW_DESCRIPTION = "Schedule {id} of workflow {name}; managed by Bifrost (/api/schedules)."
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
        task = _sync_one(workflow, existing.pop(periodic_task_name(workflow.name), None), counts)
        default_schedule_sync(workflow, task)
    if workflow_names is None:
        for task in existing.values():  # the workflow row itself is gone
            if _disable(task, "the workflow no longer exists."):
                counts["disabled"] += 1
    rows = Schedule.objects.filter(is_default=False).select_related("workflow")
    if workflow_names is not None:
        rows = rows.filter(workflow__name__in=workflow_names)
    for row in rows:
        row_task_sync(row)
    logger.info("schedule sync: %s", counts)
    return counts


def default_schedule_sync(workflow: Workflow, task) -> Schedule | None:
    """The workflow's GLOBAL default schedule row, mirroring its decorator and its beat entry."""
    row = Schedule.objects.filter(workflow=workflow, is_default=True).first()
    if row is None and not workflow.schedule:
        return None
    values = {
        "cron": workflow.schedule or (row.cron if row else ""),
        "timezone": workflow.schedule_timezone or "UTC",
        "overlap_policy": workflow.schedule_overlap,
        "enabled": bool(task is not None and task.enabled),
    }
    if values["enabled"]:
        values["next_run_at"] = _next_run(values["cron"], values["timezone"])
    if row is None:
        return Schedule.objects.create(workflow=workflow, is_default=True, target=ScheduleTarget.GLOBAL, **values)
    if any(getattr(row, name) != value for name, value in values.items()):
        for name, value in values.items():
            setattr(row, name, value)
        row.save()
    return row


def _next_run(cron: str, tz_name: str) -> dt.datetime | None:
    try:
        return next_runs(cron, zoneinfo.ZoneInfo(tz_name or "UTC"), count=1)[0]
    except Exception:
        return None


def row_task_name(schedule: Schedule) -> str:
    return f"{ROW_TASK_PREFIX}{schedule.id}"


def row_task_sync(schedule: Schedule):
    """Create or update the beat entry of a non-default schedule (enabled while the row is enabled and its
    workflow available)."""
    from django_celery_beat.models import PeriodicTask

    crontab = _crontab_for(schedule.cron, schedule.timezone)
    enabled = schedule.enabled and schedule.workflow.is_available
    task, _ = PeriodicTask.objects.update_or_create(
        name=row_task_name(schedule),
        defaults={
            "task": TICK_TASK_NAME,
            "crontab": crontab,
            "interval": None,
            "kwargs": json.dumps({"schedule_id": str(schedule.id)}),
            "description": ROW_DESCRIPTION.format(id=schedule.id, name=schedule.workflow.name),
            "enabled": enabled,
        },
    )
    next_run_at = _next_run(schedule.cron, schedule.timezone) if enabled else None
    if schedule.next_run_at != next_run_at:
        Schedule.objects.filter(id=schedule.id).update(next_run_at=next_run_at)
        schedule.next_run_at = next_run_at
    return task


# --- ticks ------------------------------------------------------------------------------------


def default_schedule(workflow_name: str) -> Schedule | None:
    return Schedule.objects.filter(workflow__name=workflow_name, is_default=True).select_related("workflow").first()


def tick_time(*, workflow_name: str, now: dt.datetime | None = None, schedule: Schedule | None = None):
    """The tick beat meant: the cron's last due time at or before now (truncated to the minute)."""
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    if schedule is not None and not schedule.is_default:
        expression, tz = schedule.cron, zoneinfo.ZoneInfo(schedule.timezone or "UTC")
    else:
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


def tick_claim(
    *, workflow_name: str, scheduled_for: dt.datetime, schedule: Schedule | None = None, organization=None
) -> ScheduleTick | None:
    """Claim a tick (of one organization, for a fan-out); None when it was claimed already (a second beat,
    a redelivered message). Without `schedule`, the workflow's default schedule."""
    if schedule is None:
        schedule = default_schedule(workflow_name)
    try:
        with transaction.atomic():
            return ScheduleTick.objects.create(
                workflow_name=workflow_name, scheduled_for=scheduled_for, schedule=schedule, organization=organization
            )
    except IntegrityError:
        return None


def previous_unfinished_execution(workflow_name: str, *, before: ScheduleTick):
    """The execution of this schedule's (and organization's) latest started tick, when it has not finished."""
    from django.db.models import Q

    from executions.models import Execution

    ticks = ScheduleTick.objects.filter(
        workflow_name=workflow_name,
        organization=before.organization_id,
        outcome=TickOutcome.STARTED,
        execution__isnull=False,
    )
    if before.schedule_id is not None and before.schedule.is_default:
        ticks = ticks.filter(Q(schedule=before.schedule_id) | Q(schedule__isnull=True))  # ticks before §15
    else:
        ticks = ticks.filter(schedule=before.schedule_id)
    previous = (
        ticks.exclude(id=before.id).order_by("-scheduled_for").values_list("execution_id", flat=True).first()
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
        "organization_id": str(tick.organization_id) if tick.organization_id else None,
        "detail": detail,
    }


def _targets(schedule: Schedule | None) -> list:
    """The organizations one tick runs in (None = GLOBAL)."""
    if schedule is None or schedule.target == ScheduleTarget.GLOBAL:
        return [None]
    if schedule.target == ScheduleTarget.ORGANIZATION:
        return [schedule.organization]
    from orgs.models import Organization

    return list(Organization.objects.filter(is_active=True).order_by("name", "id"))


def _tick_one(workflow: Workflow, schedule: Schedule | None, scheduled_for: dt.datetime, organization) -> dict:
    tick = tick_claim(
        workflow_name=workflow.name, scheduled_for=scheduled_for, schedule=schedule, organization=organization
    )
    if tick is None:
        logger.info("tick %s %s already claimed; nothing to do", workflow.name, scheduled_for)
        return {"outcome": "duplicate", "workflow_name": workflow.name, "scheduled_for": scheduled_for.isoformat()}
    overlap = schedule.overlap_policy if schedule is not None else workflow.schedule_overlap
    if overlap == OverlapPolicy.SKIP:
        running = previous_unfinished_execution(workflow.name, before=tick)
        if running is not None:
            detail = f"The previous run {running.id} is still {running.status}."
            return _record(tick, TickOutcome.SKIPPED_OVERLAP, detail)

    from executions.admission import QuotaExceeded
    from executions.services import execution_start

    try:
        started = execution_start(
            workflow_name=workflow.name,
            parameters=dict(schedule.parameters or {}) if schedule is not None else {},
            trigger="schedule",
            organization=organization,
            user=None,
            executed_by_name=SCHEDULER_NAME,
            schedule=schedule,
        )
    except QuotaExceeded as exc:
        return _record(tick, TickOutcome.SKIPPED_QUOTA, str(exc.detail))
    except exceptions.APIException as exc:
        return _record(tick, TickOutcome.SKIPPED_UNAVAILABLE, f"Could not start: {exc.detail}")
    return _record(tick, TickOutcome.STARTED, execution=started.execution)


def schedule_tick_run(
    *,
    workflow_name: str | None = None,
    schedule_id=None,
    now: dt.datetime | None = None,
    scheduled_for: dt.datetime | None = None,
) -> dict:
    """Handle one beat tick of a schedule (by id, or a workflow's default): claim it once per organization it
    runs in, apply the overlap policy, start each run through admission. An `each_organization` tick fans out
    one run per active organization; a quota used up is recorded as a skipped tick."""
    schedule = None
    if schedule_id is not None:
        schedule = Schedule.objects.select_related("workflow", "organization").filter(id=schedule_id).first()
        if schedule is None:
            logger.warning("tick for schedule %s ignored: no such schedule", schedule_id)
            return {"outcome": "ignored", "schedule_id": str(schedule_id), "detail": "no such schedule"}
        workflow_name = schedule.workflow.name
    elif workflow_name is not None:
        schedule = default_schedule(workflow_name)
    scheduled_for = scheduled_for or tick_time(workflow_name=workflow_name, now=now, schedule=schedule)
    if scheduled_for is None:
        logger.warning("tick for %s ignored: no such scheduled workflow", workflow_name)
        return {"outcome": "ignored", "workflow_name": workflow_name, "detail": "no such scheduled workflow"}

    workflow = Workflow.objects.filter(name=workflow_name).first()
    unavailable = (
        workflow is None
        or not workflow.is_available
        or (schedule is None and not workflow.schedule)
        or (schedule is not None and schedule.is_default and not workflow.schedule)
    )
    if unavailable:
        tick = tick_claim(workflow_name=workflow_name, scheduled_for=scheduled_for, schedule=schedule)
        if tick is None:
            return {"outcome": "duplicate", "workflow_name": workflow_name, "scheduled_for": scheduled_for.isoformat()}
        return _record(tick, TickOutcome.SKIPPED_UNAVAILABLE, "The workflow is unavailable or has no schedule.")

    results = [_tick_one(workflow, schedule, scheduled_for, organization) for organization in _targets(schedule)]
    if schedule is not None:
        Schedule.objects.filter(id=schedule.id).update(
            last_run_at=scheduled_for,
            next_run_at=_next_run(schedule.cron, schedule.timezone) if schedule.enabled else None,
        )
    if schedule is not None and schedule.target == ScheduleTarget.EACH_ORGANIZATION:
        outcomes: dict[str, int] = {}
        for result in results:
            outcomes[result["outcome"]] = outcomes.get(result["outcome"], 0) + 1
        return {
            "outcome": "fan_out",
            "workflow_name": workflow_name,
            "schedule_id": str(schedule.id),
            "scheduled_for": scheduled_for.isoformat(),
            "organizations": len(results),
            "outcomes": outcomes,
        }
    return results[0]


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
    default_schedule_sync(workflow, task)
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
        schedule=default_schedule(workflow.name),
    )
    audit.record(
        action="schedule.trigger",
        resource_type="schedule",
        resource_id=workflow.name,
        organization=organization,
        changes={"after": {"execution_id": str(started.execution.id)}},
    )
    return started


# --- schedules as rows (/api/schedules, DESIGN §15) --------------------------------------------------

ROW_FIELDS = ("cron", "timezone", "parameters", "overlap_policy", "enabled", "description", "target")
DEFAULT_EDITABLE = {"enabled", "timezone"}


def _validate_row(*, workflow: Workflow, values: dict, organization) -> dict:
    """Normalised values of a schedule row, or a 400 naming each bad field."""
    from bifrost.errors import ParameterValidationError
    from bifrost.params import coerce_parameters

    values = dict(values)
    if "cron" in values:
        try:
            values["cron"] = " ".join(cron_fields(values["cron"]))
        except exceptions.ValidationError as exc:
            raise exceptions.ValidationError({"cron": exc.detail["expression"]}) from None
    if "timezone" in values:
        timezone_validate(values["timezone"])
    if "parameters" in values:
        try:
            values["parameters"] = coerce_parameters(workflow.parameters, values["parameters"] or {})
        except ParameterValidationError as exc:
            raise exceptions.ValidationError({"parameters": exc.errors}) from None
    target = values.get("target")
    if target == ScheduleTarget.ORGANIZATION and organization is None:
        raise exceptions.ValidationError(
            {"target": ["An organization schedule needs an organization (X-Organization-Id or organization_id)."]}
        )
    if target in (ScheduleTarget.GLOBAL, ScheduleTarget.EACH_ORGANIZATION) and organization is not None:
        raise exceptions.ValidationError({"target": [f"A {target} schedule is created in GLOBAL scope."]})
    return values


@transaction.atomic
def schedule_create(*, workflow_name: str, organization, values: dict, user) -> Schedule:
    workflow = Workflow.objects.filter(name=workflow_name).first()
    if workflow is None:
        raise exceptions.ValidationError({"workflow": [f"No workflow named {workflow_name!r}."]})
    values = {"parameters": {}, **values}
    values.setdefault("target", ScheduleTarget.ORGANIZATION if organization is not None else ScheduleTarget.GLOBAL)
    values = _validate_row(workflow=workflow, values=values, organization=organization)
    row = Schedule.objects.create(workflow=workflow, organization=organization, created_by=user, **values)
    row_task_sync(row)
    audit.record(
        action="schedule.create",
        resource_type="schedule",
        resource_id=row.id,
        organization=organization,
        changes={"after": {"workflow": workflow.name, **{k: getattr(row, k) for k in ROW_FIELDS}}},
    )
    return row


@transaction.atomic
def schedule_row_update(*, schedule: Schedule, values: dict, user) -> Schedule:
    """Change a schedule. A workflow's default schedule takes only `enabled` and `timezone` (the rest is its
    decorator's)."""
    if schedule.is_default:
        fixed = sorted(set(values) - DEFAULT_EDITABLE)
        if fixed:
            message = "The default schedule follows @workflow(schedule=...); add a schedule instead."
            raise exceptions.ValidationError({name: [message] for name in fixed})
        schedule_update(
            workflow_name=schedule.workflow.name, enabled=values.get("enabled"), timezone_name=values.get("timezone")
        )
        schedule.refresh_from_db()
        return schedule
    values = _validate_row(
        workflow=schedule.workflow, values={"target": schedule.target, **values}, organization=schedule.organization
    )
    before = {k: getattr(schedule, k) for k in ROW_FIELDS}
    for name, value in values.items():
        setattr(schedule, name, value)
    schedule.save()
    row_task_sync(schedule)
    audit.record(
        action="schedule.update",
        resource_type="schedule",
        resource_id=schedule.id,
        organization=schedule.organization,
        changes=audit.services.diff(before, {k: getattr(schedule, k) for k in ROW_FIELDS}),
    )
    return schedule


@transaction.atomic
def schedule_delete(*, schedule: Schedule, user) -> None:
    from django_celery_beat.models import PeriodicTask

    from bifrost_site.api.errors import ConflictError

    if schedule.is_default:
        raise ConflictError("A workflow's default schedule comes from @workflow(schedule=...); pause it instead.")
    PeriodicTask.objects.filter(name=row_task_name(schedule)).delete()
    audit.record(
        action="schedule.delete",
        resource_type="schedule",
        resource_id=schedule.id,
        organization=schedule.organization,
        changes={"before": {"workflow": schedule.workflow.name, "cron": schedule.cron}},
    )
    schedule.delete()


def schedule_row_trigger(*, schedule: Schedule, user, organization=None):
    """Run a schedule's workflow now with its parameters, as the admin who asked (trigger=manual): in the
    schedule's organization, else in the caller's scope."""
    from executions.services import execution_start

    where = schedule.organization if schedule.target == ScheduleTarget.ORGANIZATION else organization
    started = execution_start(
        workflow_name=schedule.workflow.name,
        parameters=dict(schedule.parameters or {}),
        trigger="manual",
        organization=where,
        user=user,
        executed_by_name=getattr(user, "email", None),
        schedule=schedule,
    )
    audit.record(
        action="schedule.trigger",
        resource_type="schedule",
        resource_id=schedule.id,
        organization=where,
        changes={"after": {"execution_id": str(started.execution.id)}},
    )
    return started
