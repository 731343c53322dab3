"""Writes for the workflow registry: discovery, reload jobs, data provider calls."""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.exceptions import NotFound, ValidationError

from audit.services import audit_record
from bifrost.errors import ParameterValidationError
from bifrost.params import coerce_parameters
from bifrost_site.api.errors import ApplicationError, ConflictError, ServiceUnavailableError
from executions import answers
from executions.admission import admission_dispatch
from executions.tasks import run_data_provider_task
from workflows.models import DataProvider, JobStatus, JobType, Workflow, WorkspaceJob
from workflows.services import discovery, schedules
from workflows.tasks import discover_workflows_task
from workflows.versions import current_git_commit, workflow_versions_record

logger = logging.getLogger(__name__)

DISCOVERY_LOCK_ID = 0x0B1F_D15C  # pg advisory lock: one discovery at a time across workers


def _lock_discovery() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DISCOVERY_LOCK_ID])


def _sync_rows(model, specs_by_name: dict, reports, now) -> tuple[int, list[str]]:
    """Upsert the discovered specs; mark every other row unavailable with the reason."""
    errors = {r.path: r.error for r in reports if r.error}
    present = {r.path for r in reports}
    for name, (spec, report) in specs_by_name.items():
        values = spec.to_dict()
        values.pop("name")
        values.update(
            source_path=report.path,
            source_hash=report.hash,
            is_available=True,
            import_error="",
            discovered_at=now,
            updated_at=now,
        )
        model.objects.update_or_create(name=name, defaults=values)
    unavailable = []
    for row in model.objects.exclude(name__in=list(specs_by_name)).only("id", "name", "source_path", "is_available"):
        if row.source_path in errors:
            reason = f"{row.source_path} failed to import:\n{errors[row.source_path]}"
        elif row.source_path not in present:
            reason = f"{row.source_path or 'Its source file'} no longer exists in the workspace."
        else:
            reason = f"'{row.name}' is no longer defined in {row.source_path}."
        model.objects.filter(id=row.id).update(is_available=False, import_error=reason, updated_at=now)
        unavailable.append(row.name)
    return len(specs_by_name), unavailable


@transaction.atomic
def discovery_run(*, reason: str) -> dict:
    """Import the workspace and write Workflow/DataProvider rows (call from a worker or a command)."""
    started = time.monotonic()
    _lock_discovery()
    reports = discovery.scan()
    now = timezone.now()
    workflows = {s.name: (s, r) for r in reports for s in r.workflows}
    providers = {s.name: (s, r) for r in reports for s in r.data_providers}
    workflow_count, unavailable_workflows = _sync_rows(Workflow, workflows, reports, now)
    new_versions = workflow_versions_record(
        specs_by_name=workflows, git_commit=current_git_commit() if reason == "git_sync" else ""
    )
    provider_count, unavailable_providers = _sync_rows(DataProvider, providers, reports, now)
    report = {
        "reason": reason,
        "files": len(reports),
        "workflows": workflow_count,
        "data_providers": provider_count,
        "errors": {r.path: r.error for r in reports if r.error},
        "unavailable_workflows": sorted(unavailable_workflows),
        "unavailable_data_providers": sorted(unavailable_providers),
        "new_versions": new_versions,
    }
    report["schedules"] = schedules.schedule_sync()
    report["duration_ms"] = int((time.monotonic() - started) * 1000)
    logger.info(
        "discovery (%s): %d workflows, %d data providers, %d file errors",
        reason,
        workflow_count,
        provider_count,
        len(report["errors"]),
    )
    return report


def workspace_job_discovery_run(*, job_id) -> dict:
    """Run discovery for a queued WorkspaceJob, recording its status and outcome."""
    updated = WorkspaceJob.objects.filter(id=job_id, status=JobStatus.PENDING).update(
        status=JobStatus.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not updated:
        return {"skipped": True}
    try:
        report = discovery_run(reason=f"job {job_id}")
    except Exception as exc:
        WorkspaceJob.objects.filter(id=job_id).update(
            status=JobStatus.FAILED, error_message=str(exc)[:4000], completed_at=timezone.now()
        )
        raise
    WorkspaceJob.objects.filter(id=job_id).update(
        status=JobStatus.SUCCESS, result=json.loads(json.dumps(report, default=str)), completed_at=timezone.now()
    )
    return report


def workflows_reload(*, user) -> WorkspaceJob:
    """Queue discovery; the job's status follows it (202 {job_id})."""
    with transaction.atomic():
        job = WorkspaceJob.objects.create(
            job_type=JobType.DISCOVERY, requested_by=user, parameters={"reason": "reload"}
        )
        audit_record(action="workflow.reload", resource_type="workspace_job", resource_id=job.id)
    try:
        discover_workflows_task.apply_async(kwargs={"job_id": str(job.id)})
    except Exception as exc:
        WorkspaceJob.objects.filter(id=job.id).update(
            status=JobStatus.FAILED, error_message=f"The task queue is unavailable: {exc}", completed_at=timezone.now()
        )
        raise ServiceUnavailableError("The task queue is unavailable; discovery was not started.") from exc
    return job


# --------------------------------------------------------------------------- data providers


def _cache_key(name: str, inputs: dict, organization) -> str:
    blob = json.dumps(inputs, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(blob.encode()).hexdigest()[:32]
    org = organization.id if organization is not None else "global"
    return f"dataprovider:{name}:{org}:{digest}"


def _run_data_provider(name: str, inputs: dict, organization):
    """Run the provider in a worker and wait for its outcome (executions.answers); 503 if none comes."""
    task_id = str(uuid.uuid4())
    try:
        run_data_provider_task.apply_async(
            args=[name, inputs, str(organization.id) if organization is not None else None], task_id=task_id
        )
    except Exception as exc:
        raise ServiceUnavailableError("The task queue is unavailable.") from exc
    try:
        outcome = answers.wait_answer(task_id, timeout=settings.DATA_PROVIDER_TIMEOUT_SECONDS)
    except Exception as exc:  # Redis unreachable
        raise ServiceUnavailableError(f"Data provider '{name}' could not answer (Redis is unreachable).") from exc
    if outcome is None:
        raise ServiceUnavailableError(f"Data provider '{name}' did not answer in time.")
    return outcome


def data_provider_options(*, name: str, inputs: dict, organization) -> tuple[list[dict], bool]:
    """Options of a data provider for (inputs, organization): from the cache, else run in a worker.

    Reusable by form-scoped endpoints. Raises NotFound, ConflictError (unavailable), 400 for bad
    inputs or a provider error, 503 when the worker does not answer in time.
    """
    provider = DataProvider.objects.filter(name=name).first()
    if provider is None:
        raise NotFound(f"Data provider '{name}' does not exist.")
    if not provider.is_available:
        raise ConflictError(f"Data provider '{name}' is unavailable: {provider.import_error}")
    if inputs is None:
        inputs = {}
    try:
        coerced = coerce_parameters(provider.parameters, inputs)
    except ParameterValidationError as exc:
        raise ValidationError({"inputs": exc.errors}) from None
    key = _cache_key(name, coerced, organization)
    try:
        cached = cache.get(key)
    except Exception:
        cached = None
    if cached is not None:
        return cached, True
    outcome = _run_data_provider(name, coerced, organization)
    if not isinstance(outcome, dict) or "options" not in outcome:
        raise ApplicationError(
            f"Data provider '{name}' failed: {(outcome or {}).get('error', outcome)}"
            if isinstance(outcome, dict)
            else f"Data provider '{name}' failed."
        )
    options = outcome["options"]
    if provider.cache_ttl_seconds:
        try:
            cache.set(key, options, timeout=provider.cache_ttl_seconds)
        except Exception:
            logger.warning("could not cache options of %s", name, exc_info=True)
    return options, False


@transaction.atomic
def workflow_override_set(*, workflow: Workflow, user, field: str, value) -> Workflow:
    """Set one of an administrator's overrides of a workflow's declaration (`*_override`; discovery never
    changes them), audited as `workflow.update`."""
    before = {field: getattr(workflow, field)}
    setattr(workflow, field, value)
    workflow.save(update_fields=[field, "updated_at"])
    audit_record(
        action="workflow.update",
        resource_type="workflow",
        resource_id=workflow.name,
        actor=user,
        changes={"before": before, "after": {field: value}},
    )
    return workflow


@transaction.atomic
def workflow_limits_update(*, workflow: Workflow, user, max_concurrency: int | None) -> Workflow:
    """An administrator's concurrency limit for a workflow (DESIGN §15); null = the decorator's again.
    A higher limit admits waiting runs at once."""
    workflow_override_set(workflow=workflow, user=user, field="max_concurrency_override", value=max_concurrency)

    def wake():
        admission_dispatch(workflow_name=workflow.name)

    transaction.on_commit(wake)
    return workflow


@transaction.atomic
def workflow_time_saved_update(*, workflow: Workflow, user, minutes: int | None) -> Workflow:
    """An administrator's estimate of the minutes one successful run saves (usage, DESIGN §20); null = the
    decorator's again."""
    return workflow_override_set(workflow=workflow, user=user, field="time_saved_minutes_override", value=minutes)
