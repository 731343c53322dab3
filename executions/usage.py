"""Usage per organization for a month (DESIGN §20, docs/usage.md): the figures an MSP bills by and shows
its customers. Platform admins only (the API view and the admin page check that).

Per organization (GLOBAL runs are one more row, `organization_id` null) for runs **created** in the month:
runs by status, total and p95 duration of the finished runs (PostgreSQL `percentile_cont`), CPU seconds of the
worker children, approvals decided in the month (0 without the approvals app), and minutes saved: each
successful run × its workflow's `time_saved_minutes` (the administrator's override, else the decorator's).

How it stays fast at a million executions: a closed month (ended more than CLOSED_AFTER ago) whose runs have
all finished is aggregated once and stored as a `UsageMonth` row (finished runs never change); afterwards the
month is that one row. The current month, and a closed month that still has an unfinished run (a deferred run,
one awaiting approval), are aggregated live from the executions. Either way the stored part is the same
`figures` (counts, durations, CPU, successful runs per workflow); organization names, time saved (the
workflows' minutes as they are now) and approvals are read when the month is shown, so an override or a
rename shows in past months too, as it always did.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field

from django.apps import apps
from django.db import IntegrityError, transaction
from django.db.models import Aggregate, Count, F, FloatField, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from executions.models import FINISHED_STATUSES, Execution, ExecutionStatus, UsageMonth

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
STATUSES = tuple(ExecutionStatus.values)
# A month is stored only this long after it ended: a run created in its last second has committed by then.
CLOSED_AFTER = dt.timedelta(hours=1)


class PercentileCont(Aggregate):
    """PostgreSQL's `percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)`."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        super().__init__(expression, fraction=float(fraction), **extra)


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """`YYYY-MM` → [first instant, first instant of the next month) in UTC; ValueError otherwise."""
    match = MONTH_PATTERN.match(month or "")
    if not match:
        raise ValueError("month must be YYYY-MM, e.g. 2026-12")
    year, number = int(match[1]), int(match[2])
    if not 1 <= year <= 9998:
        raise ValueError("month must be between 0001-01 and 9998-12")
    start = dt.datetime(year, number, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


@dataclass
class OrganizationUsage:
    organization_id: str | None
    organization_name: str
    runs: dict[str, int] = field(default_factory=dict)
    runs_total: int = 0
    duration_total_ms: int = 0
    duration_p95_ms: float | None = None
    cpu_seconds: float = 0.0
    approvals_decided: int = 0
    time_saved_minutes: int = 0


def usage_for_month(*, month: str, organization_id=None, now: dt.datetime | None = None) -> list[OrganizationUsage]:
    """One row per organization with runs (or decided approvals) in `month`, GLOBAL last."""
    start, end = month_bounds(month)
    figures = None
    if end + CLOSED_AFTER <= (now or timezone.now()):
        figures = usage_month_figures(start=start, end=end)
    if figures is None:  # the current month, or a closed one with unfinished runs: live
        figures = month_figures_aggregate(start=start, end=end, organization_id=organization_id)
    if organization_id is not None:
        figures = [f for f in figures if f["organization_id"] == str(organization_id)]
    return _presented(figures, start, end, organization_id)


def month_figures_aggregate(*, start, end, organization_id=None) -> list[dict]:
    """The month's figures per organization from its executions: one aggregate grouped by organization
    (the percentile sorts each organization's durations) and one count of successful runs per organization
    and workflow. No join: the names are read for the few organizations afterwards."""
    runs = Execution.objects.filter(created_at__gte=start, created_at__lt=end)
    if organization_id is not None:
        runs = runs.filter(organization_id=organization_id)
    per_status = {f"status_{i}": Count("id", filter=Q(status=status)) for i, status in enumerate(STATUSES)}
    rows = (
        runs.values("organization_id")
        .order_by()
        .annotate(
            total=Count("*"),
            duration_total=Coalesce(Sum("duration_ms"), 0),
            duration_p95=PercentileCont("duration_ms", 0.95),
            cpu_total=Coalesce(Sum("cpu_ms"), 0),
            **per_status,
        )
    )
    figures = {
        row["organization_id"]: {
            "organization_id": str(row["organization_id"]) if row["organization_id"] else None,
            "runs": {status: row[f"status_{i}"] for i, status in enumerate(STATUSES)},
            "runs_total": row["total"],
            "duration_total_ms": row["duration_total"],
            "duration_p95_ms": round(row["duration_p95"], 1) if row["duration_p95"] is not None else None,
            "cpu_ms": row["cpu_total"],
            "successes": {},
        }
        for row in rows
    }
    successes = (
        runs.filter(status=ExecutionStatus.SUCCESS)
        .values_list("organization_id", "workflow_name")
        .order_by()
        .annotate(n=Count("*"))
    )
    for key, workflow_name, n in successes:
        figures[key]["successes"][workflow_name] = n
    return list(figures.values())


def usage_month_figures(*, start, end) -> list[dict] | None:
    """A closed month's figures: its `UsageMonth` row, stored now when every run created in the month has
    finished; None while one has not (the caller aggregates live)."""
    stored = UsageMonth.objects.filter(month=start.date()).values_list("organizations", flat=True).first()
    if stored is not None:
        return stored
    runs = Execution.objects.filter(created_at__gte=start, created_at__lt=end)
    if runs.exclude(status__in=FINISHED_STATUSES).exists():
        return None
    figures = month_figures_aggregate(start=start, end=end)
    try:
        with transaction.atomic():
            UsageMonth.objects.create(month=start.date(), organizations=figures)
    except IntegrityError:  # another request stored it first: the same figures
        pass
    return figures


def _minutes_saved_per_run() -> dict[str, int]:
    """{workflow name: minutes one successful run saves} for the workflows that declare any (the
    administrator's override, else the decorator's)."""
    from workflows.models import Workflow

    minutes = {}
    for name, declared, override in Workflow.objects.values_list(
        "name", "time_saved_minutes", "time_saved_minutes_override"
    ):
        value = override if override is not None else declared
        if value:
            minutes[name] = value
    return minutes


def _presented(figures: list[dict], start, end, organization_id) -> list[OrganizationUsage]:
    from orgs.models import Organization

    ids = [f["organization_id"] for f in figures if f["organization_id"]]
    names = {str(pk): name for pk, name in Organization.objects.filter(id__in=ids).values_list("id", "name")}
    minutes = _minutes_saved_per_run() if any(f["successes"] for f in figures) else {}
    usage: dict = {}
    for f in figures:
        key = f["organization_id"]
        usage[key] = OrganizationUsage(
            organization_id=key,
            organization_name=names.get(key, "GLOBAL") if key else "GLOBAL",
            runs={status: f["runs"].get(status, 0) for status in STATUSES},
            runs_total=f["runs_total"],
            duration_total_ms=f["duration_total_ms"],
            duration_p95_ms=f["duration_p95_ms"],
            cpu_seconds=round(f["cpu_ms"] / 1000, 3),
            time_saved_minutes=sum(n * minutes.get(name, 0) for name, n in f["successes"].items()),
        )
    _add_approvals(usage, start, end, organization_id)
    return sorted(usage.values(), key=lambda u: (u.organization_id is None, u.organization_name.lower()))


def _add_approvals(usage: dict, start, end, organization_id) -> None:
    """Approvals decided (approved or rejected) in the month; 0 until the approvals app is installed."""
    if not apps.is_installed("approvals"):
        return
    approval = apps.get_model("approvals", "Approval")
    decided = approval.objects.filter(decided_at__gte=start, decided_at__lt=end, status__in=("approved", "rejected"))
    if organization_id is not None:
        decided = decided.filter(organization_id=organization_id)
    for row in decided.values("organization_id", name=F("organization__name")).order_by().annotate(n=Count("id")):
        key = str(row["organization_id"]) if row["organization_id"] else None
        if key not in usage:
            usage[key] = OrganizationUsage(
                organization_id=key,
                organization_name=row["name"] or "GLOBAL",
                runs=dict.fromkeys(STATUSES, 0),
            )
        usage[key].approvals_decided = row["n"]


CSV_COLUMNS = (
    "month",
    "organization_id",
    "organization_name",
    "runs_total",
    *(f"runs_{status}" for status in STATUSES),
    "duration_total_ms",
    "duration_p95_ms",
    "cpu_seconds",
    "approvals_decided",
    "time_saved_minutes",
)


def usage_csv(month: str, rows: list[OrganizationUsage]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                month,
                row.organization_id or "",
                row.organization_name,
                row.runs_total,
                *(row.runs.get(status, 0) for status in STATUSES),
                row.duration_total_ms,
                "" if row.duration_p95_ms is None else row.duration_p95_ms,
                row.cpu_seconds,
                row.approvals_decided,
                row.time_saved_minutes,
            ]
        )
    return out.getvalue()
