"""Template helpers shared by the portal pages: status labels, durations, times and the scope's name.

`{% load portal %}`; the same wording is used by the pages' scripts (STATUS_LABELS travels in json_script,
`formatDuration` in bifrost_site/static/bifrost_site/site.js mirrors `duration`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html

register = template.Library()

GLOBAL_SCOPE_NAME = "Global"

STATUS_LABELS = {
    "Scheduled": "Scheduled",
    "AwaitingApproval": "Awaiting approval",
    "Pending": "Pending",
    "Running": "Running",
    "Success": "Succeeded",
    "CompletedWithErrors": "Completed with errors",
    "Failed": "Failed",
    "Timeout": "Timed out",
    "Cancelling": "Cancelling",
    "Cancelled": "Cancelled",
    "Rejected": "Rejected",
    "Expired": "Expired",
}

TRIGGER_LABELS = {
    "manual": "Manual",
    "form": "Form",
    "schedule": "Schedule",
    "endpoint": "Endpoint",
    "rerun": "Rerun",
}


WAITING_LABELS = {
    "workflow_concurrency": "For a free slot: this workflow is at its limit of concurrent runs",
    "organization_concurrency": "For a free slot: the organization is at its limit of concurrent runs",
}


@register.filter(name="waiting_label")
def waiting_label(reason) -> str:
    """Why an accepted run has not started yet (DESIGN §15), in words."""
    return WAITING_LABELS.get(str(reason or ""), "For a free slot")


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def format_duration(ms) -> str:
    """1234 → "1.2 s", 72000 → "1 min 12 s", 3_780_000 → "1 h 3 min"; None → "—"."""
    if ms is None or ms == "":
        return "—"
    ms = int(ms)
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 10:
        return f"{seconds:.1f} s".replace(".0 s", " s")
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter(name="status_label")
def status_label_filter(status) -> str:
    return status_label(str(status or ""))


@register.filter(name="trigger_label")
def trigger_label_filter(trigger) -> str:
    return TRIGGER_LABELS.get(str(trigger or ""), str(trigger or ""))


@register.filter(name="duration")
def duration_filter(ms) -> str:
    return format_duration(ms)


@register.filter(name="scope_name")
def scope_name(organization) -> str:
    """An organization's name, or "Global" for the global scope (None)."""
    return organization.name if organization is not None else GLOBAL_SCOPE_NAME


@register.simple_tag
def local_time(value, empty="—"):
    """A <time> the page's script shows in the browser's time zone; UTC text until then and on hover."""
    if value is None:
        return empty
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
    utc = value.strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html(
        '<time datetime="{}" title="{}" data-local>{}</time>', value.isoformat().replace("+00:00", "Z"), utc, utc
    )
