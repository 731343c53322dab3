"""Workspace jobs (git sync, package install): the state machine, log lines and live streaming.

Lines are persisted first (a gap-free `sequence` per job), then broadcast to the channel group
`workspace_job.<id>`; a WebSocket client gets the stored backlog and then live lines, deduplicated
by sequence (workflows/consumers.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

import audit
import audit.services
from bifrost_site.api.errors import ServiceUnavailableError
from workflows.models import JobStatus, WorkspaceJob, WorkspaceJobLog
from workflows.services import discovery_run

logger = logging.getLogger(__name__)

MASK = "***"
FINISHED = (JobStatus.SUCCESS, JobStatus.FAILED)


def job_group(job_id) -> str:
    return f"workspace_job.{job_id}"


def _broadcast(job_id, message: dict) -> None:
    """Send to the job's group; a channel layer outage never fails the job (clients can re-read the API)."""
    try:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(job_group(job_id), message)
    except Exception:
        logger.warning("could not broadcast workspace job %s event", job_id, exc_info=True)


def log_message(line: WorkspaceJobLog) -> dict:
    return {
        "type": "log",
        "sequence": line.sequence,
        "stream": line.stream,
        "message": line.message,
        "timestamp": line.timestamp.isoformat(),
    }


def status_message(job: WorkspaceJob) -> dict:
    return {
        "type": "status",
        "status": job.status,
        "is_complete": job.status in FINISHED,
        "error_message": job.error_message,
        "result": job.result,
    }


class JobRecorder:
    """Appends masked output lines to one job, persisting before broadcasting."""

    def __init__(self, job: WorkspaceJob):
        self.job = job
        self.sequence = job.logs.aggregate(m=Max("sequence"))["m"] or 0
        self._masks: list[str] = []

    def add_mask(self, value: str | None) -> None:
        if value and len(value) >= 4:
            self._masks.append(value)
            self._masks.sort(key=len, reverse=True)

    def mask(self, text: str) -> str:
        for value in self._masks:
            text = text.replace(value, MASK)
        return text

    def lines(self, messages: Iterable[str], stream: str = "stdout") -> None:
        now = timezone.now()
        rows = []
        for message in messages:
            self.sequence += 1
            rows.append(
                WorkspaceJobLog(
                    job=self.job,
                    sequence=self.sequence,
                    stream=stream,
                    message=self.mask(message.rstrip("\n")),
                    timestamp=now,
                )
            )
        if not rows:
            return
        WorkspaceJobLog.objects.bulk_create(rows)
        for row in rows:
            _broadcast(self.job.id, {"type": "job.event", "event": log_message(row)})

    def line(self, message: str, stream: str = "stdout") -> None:
        self.lines([message], stream)

    def info(self, message: str) -> None:
        self.line(message, stream="bifrost")


def job_begin(job_id) -> WorkspaceJob | None:
    """pending → running, or None when the job is not pending (a redelivered message does nothing)."""
    updated = WorkspaceJob.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not updated:
        logger.info("workspace job %s is not pending; skipping", job_id)
        return None
    job = WorkspaceJob.objects.get(id=job_id)
    _broadcast(job.id, {"type": "job.event", "event": status_message(job)})
    return job


def job_finish(job: WorkspaceJob, *, status: str, result: dict | None = None, error: str = "") -> WorkspaceJob:
    job.status = status
    job.result = result or {}
    job.error_message = error
    job.completed_at = timezone.now()
    job.save(update_fields=["status", "result", "error_message", "completed_at", "updated_at"])
    _broadcast(job.id, {"type": "job.event", "event": status_message(job)})
    if status == JobStatus.FAILED:  # notifications (DESIGN §16): enqueues only when a rule listens, never raises
        from notifications.services import notify_event

        notify_event(event="workspace.job_failed", title=f"Workspace job {job.job_type} failed", detail=error)
    return job


def workspace_job_request(
    *, job_type: str, parameters: dict, requested_by=None, publish: Callable[[str], object]
) -> WorkspaceJob:
    """Create a pending job and publish its task after commit; 503 (and the job failed) if the broker is down."""

    def _publish(job_id: str) -> None:
        try:
            publish(job_id)
        except Exception as exc:
            logger.warning("could not queue workspace job %s: %s", job_id, exc)
            WorkspaceJob.objects.filter(id=job_id).update(
                status=JobStatus.FAILED,
                error_message="The job queue (broker) is unavailable; the job was not started.",
                completed_at=timezone.now(),
            )
            raise ServiceUnavailableError("The job queue is unavailable; try again shortly.") from exc

    with transaction.atomic():
        job = WorkspaceJob.objects.create(job_type=job_type, parameters=parameters, requested_by=requested_by)
        audit.record(
            action=f"workspace_job.{job_type}",
            resource_type="workspace_job",
            resource_id=job.id,
            actor=requested_by,
            changes={"after": {"job_type": job_type, "parameters": parameters}},
        )
        transaction.on_commit(lambda: _publish(str(job.id)), robust=False)
    return job


def discovery_after(recorder: JobRecorder, *, reason: str) -> dict:
    """Run discovery after the workspace changed."""
    recorder.info("running discovery")
    summary = discovery_run(reason=reason)
    recorder.info(f"discovery finished: {summary}")
    return summary if isinstance(summary, dict) else {"summary": str(summary)}


def workspace_jobs_prune(*, older_than_days: int, batch_size: int = 1000, now=None) -> int:
    """Delete finished jobs (and their lines) completed more than `older_than_days` ago."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=older_than_days)
    removed = 0
    while True:
        ids = list(
            WorkspaceJob.objects.filter(status__in=FINISHED, completed_at__lt=cutoff).values_list("id", flat=True)[
                :batch_size
            ]
        )
        if not ids:
            return removed
        WorkspaceJobLog.objects.filter(job_id__in=ids).delete()
        removed += WorkspaceJob.objects.filter(id__in=ids).delete()[1].get(WorkspaceJob._meta.label, 0)
