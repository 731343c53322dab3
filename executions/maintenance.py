"""Housekeeping on beat: pruning of execution log lines past their retention (DESIGN §3).

The stuck-execution cleanup of DESIGN §9 belongs to the engine (executions/services.py).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from executions.models import FINISHED_STATUSES, ExecutionLog


def execution_logs_prune(*, older_than_days: int | None = None, batch_size: int = 5000, now=None) -> int:
    """Delete ExecutionLog rows of finished executions completed before the cutoff, in batches.

    The Execution rows (status, result, parameters) are kept; only their log lines go.
    """
    days = settings.EXECUTION_LOG_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    doomed = ExecutionLog.objects.filter(
        execution__status__in=list(FINISHED_STATUSES), execution__completed_at__lt=cutoff
    )
    removed = 0
    while True:
        ids = list(doomed.order_by().values_list("id", flat=True)[:batch_size])
        if not ids:
            return removed
        removed += ExecutionLog.objects.filter(id__in=ids).delete()[0]
