"""The admin console's usage page (/admin/usage/, DESIGN §20): the month per organization, with CSS bars."""

from __future__ import annotations

from django.contrib import admin
from django.shortcuts import render
from django.utils import timezone

from executions.usage import month_bounds, usage_for_month


def usage_admin_page(request):
    month = request.GET.get("month") or timezone.now().strftime("%Y-%m")
    notice = ""
    try:
        start, _end = month_bounds(month)
    except ValueError:
        notice = f"“{month}” is not a month (YYYY-MM); showing this month."
        month = timezone.now().strftime("%Y-%m")
        start, _end = month_bounds(month)
    rows = usage_for_month(month=month)
    peak_runs = max((row.runs_total for row in rows), default=0) or 1
    peak_saved = max((row.time_saved_minutes for row in rows), default=0) or 1
    previous = (start.replace(day=1) - timezone.timedelta(days=1)).strftime("%Y-%m")
    following = (start.replace(day=28) + timezone.timedelta(days=4)).strftime("%Y-%m")
    context = {
        **admin.site.each_context(request),
        "title": f"Usage · {month}",
        "month": month,
        "previous_month": previous,
        "next_month": following,
        "notice": notice,
        "rows": [
            {
                "usage": row,
                "runs_pct": round(100 * row.runs_total / peak_runs),
                "failed": row.runs.get("Failed", 0) + row.runs.get("Timeout", 0),
                "saved_pct": round(100 * row.time_saved_minutes / peak_saved),
                "saved_hours": round(row.time_saved_minutes / 60, 1),
            }
            for row in rows
        ],
        "totals": {
            "runs": sum(row.runs_total for row in rows),
            "cpu_seconds": round(sum(row.cpu_seconds for row in rows), 3),
            "saved_hours": round(sum(row.time_saved_minutes for row in rows) / 60, 1),
            "approvals": sum(row.approvals_decided for row in rows),
        },
    }
    return render(request, "executions/usage_admin.html", context)


usage_admin_view = admin.site.admin_view(usage_admin_page)
