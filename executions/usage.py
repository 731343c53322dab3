"""Usage per organization for a month (DESIGN §20, docs/usage.md): the figures an MSP bills by and shows
its customers. Reads only; platform admins only (the API view and the admin page check that).

Per organization (GLOBAL runs are one more row, `organization_id` null) for runs **created** in the month:
runs by status, total and p95 duration of the finished runs (PostgreSQL `percentile_cont`), CPU seconds of the
worker children, approvals decided in the month (0 without the approvals app), and minutes saved: each
successful run × its workflow's `time_saved_minutes` (the administrator's override, else the decorator's).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Aggregate, Case, Count, F, FloatField, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from executions.models import Execution, ExecutionStatus

MONTH_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
STATUSES = tuple(ExecutionStatus.values)


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


def usage_for_month(*, month: str, organization_id=None) -> list[OrganizationUsage]:
    """One row per organization with runs (or decided approvals) in `month`, GLOBAL last."""
    start, end = month_bounds(month)
    runs = Execution.objects.filter(created_at__gte=start, created_at__lt=end)
    if organization_id is not None:
        runs = runs.filter(organization_id=organization_id)
    per_status = {f"status_{i}": Count("id", filter=Q(status=status)) for i, status in enumerate(STATUSES)}
    per_status["time_saved"] = _time_saved_expression()
    rows = (
        runs.values("organization_id", "organization__name")
        .order_by()
        .annotate(
            total=Count("id"),
            duration_total=Coalesce(Sum("duration_ms"), 0),
            duration_p95=PercentileCont("duration_ms", 0.95),
            cpu_total=Coalesce(Sum("cpu_ms"), 0),
            **per_status,
        )
    )
    usage: dict = {}
    for row in rows:
        key = row["organization_id"]
        usage[key] = OrganizationUsage(
            organization_id=str(key) if key else None,
            organization_name=row["organization__name"] or "GLOBAL",
            runs={status: row[f"status_{i}"] for i, status in enumerate(STATUSES)},
            runs_total=row["total"],
            duration_total_ms=row["duration_total"],
            duration_p95_ms=round(row["duration_p95"], 1) if row["duration_p95"] is not None else None,
            cpu_seconds=round(row["cpu_total"] / 1000, 3),
            time_saved_minutes=row["time_saved"] or 0,
        )
    _add_approvals(usage, start, end, organization_id)
    return sorted(usage.values(), key=lambda u: (u.organization_id is None, u.organization_name.lower()))


def _time_saved_expression():
    """Minutes saved, summed in the same pass over the month's runs: each successful run adds its workflow's
    `time_saved_per_run` (one CASE branch per workflow that declares any; the registry is small)."""
    from workflows.models import Workflow

    minutes = [
        When(workflow_name=name, then=Value(override if override is not None else declared))
        for name, declared, override in Workflow.objects.values_list(
            "name", "time_saved_minutes", "time_saved_minutes_override"
        )
        if (override if override is not None else declared)
    ]
    if not minutes:
        return Value(0)
    return Coalesce(Sum(Case(*minutes, default=Value(0)), filter=Q(status=ExecutionStatus.SUCCESS)), 0)


def _add_approvals(usage: dict, start, end, organization_id) -> None:
    """Approvals decided (approved or rejected) in the month; 0 until the approvals app is installed."""
    if not apps.is_installed("approvals"):
        return
    approval = apps.get_model("approvals", "Approval")
    decided = approval.objects.filter(decided_at__gte=start, decided_at__lt=end, status__in=("approved", "rejected"))
    if organization_id is not None:
        decided = decided.filter(organization_id=organization_id)
    for row in decided.values("organization_id", name=F("organization__name")).order_by().annotate(n=Count("id")):
        key = row["organization_id"]
        if key not in usage:
            usage[key] = OrganizationUsage(
                organization_id=str(key) if key else None,
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
