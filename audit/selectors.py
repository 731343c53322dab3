"""Reads of the audit log."""

from __future__ import annotations

import datetime as dt

from audit.export import EXPORT_COLUMNS


def audit_export_rows(queryset, *, start: dt.datetime | None = None, end: dt.datetime | None = None):
    """The rows of an export, in chain order: `queryset` is already scoped and filtered by the caller
    (organization); `start` is inclusive, `end` exclusive."""
    if start is not None:
        queryset = queryset.filter(created_at__gte=start)
    if end is not None:
        queryset = queryset.filter(created_at__lt=end)
    return queryset.order_by("sequence").values(*EXPORT_COLUMNS).iterator(chunk_size=1000)
