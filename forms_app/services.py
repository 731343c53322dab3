"""Writes and runs for forms: CRUD, roles, import, startup, submission, data providers, uploads."""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import os
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions

import audit
from approvals.services import form_approval_apply
from audit.services import diff, snapshot
from bifrost_site.api.errors import ApplicationError
from executions import services as execution_services
from forms_app import jsonlogic, selectors
from forms_app.models import AccessLevel, Form, FormRole, FormUpload
from forms_app.submission import SubmissionInvalid, clean_submission, logic_data, visible_fields
from forms_app.validation import DEFAULT_MAX_SIZE_MB, form_definition_errors, query_param_names

logger = logging.getLogger(__name__)

PUBLIC_ACTOR_NAME = "public:anonymous"
EDITABLE_FIELDS = (
    "name",
    "description",
    "workflow",
    "launch_workflow",
    "default_launch_params",
    "allowed_query_params",
    "schema",
    "access_level",
    "is_active",
)
# approvals (DESIGN §16): set by approvals.services.form_approval_apply, audited with the form
AUDIT_FIELDS = [*EDITABLE_FIELDS, "organization", "requires_approval", "approval_timeout_hours"]
EXPORT_VERSION = 1


@dataclass(frozen=True)
class FormActor:
    """Who runs a form: a signed-in user in a scope, or the anonymous public."""

    scope: Any  # RequestScope | None
    form: Form

    @property
    def user(self):
        return self.scope.user if self.scope is not None else None

    @property
    def is_admin(self) -> bool:
        return self.scope is not None and self.scope.is_platform_admin

    @property
    def organization(self):
        """The organization an execution runs in: the form's, else the caller's scope. Public runs
        of a GLOBAL form are GLOBAL (None)."""
        if self.form.organization_id is not None:
            return self.form.organization
        return self.scope.organization if self.scope is not None else None

    @property
    def executed_by_name(self) -> str:
        return self.user.email if self.user is not None else PUBLIC_ACTOR_NAME


# --- definition -------------------------------------------------------------------------------


def _validate_definition(values: dict) -> None:
    errors = form_definition_errors(
        schema=values.get("schema"),
        workflow=values.get("workflow"),
        launch_workflow=values.get("launch_workflow") or "",
        default_launch_params=values.get("default_launch_params"),
        allowed_query_params=values.get("allowed_query_params"),
    )
    if errors:
        raise exceptions.ValidationError(errors)


@transaction.atomic
def form_create(*, scope, data: dict, user=None) -> Form:
    values = {k: data[k] for k in EDITABLE_FIELDS if k in data}
    values.setdefault("schema", {"fields": []})
    _validate_definition(values)
    form = Form(**values, organization=scope.organization if scope else None, created_by=user)
    form.full_clean(exclude=["created_by"])
    form.save()
    form_approval_apply(form=form, data=data)
    audit.record(
        action="form.create",
        resource_type="form",
        resource_id=form.id,
        organization=form.organization_id,
        changes=diff(None, snapshot(form, AUDIT_FIELDS)),
    )
    return form


@transaction.atomic
def form_update(*, form: Form, data: dict) -> Form:
    before = snapshot(form, AUDIT_FIELDS)
    values = {k: getattr(form, k) for k in EDITABLE_FIELDS}
    values.update({k: data[k] for k in EDITABLE_FIELDS if k in data})
    _validate_definition(values)
    for key, value in values.items():
        setattr(form, key, value)
    form.full_clean(exclude=["created_by"])
    form.save()
    form_approval_apply(form=form, data=data)
    audit.record(
        action="form.update",
        resource_type="form",
        resource_id=form.id,
        organization=form.organization_id,
        changes=diff(before, snapshot(form, AUDIT_FIELDS)),
    )
    return form


@transaction.atomic
def form_delete(*, form: Form) -> None:
    before = snapshot(form, AUDIT_FIELDS)
    form_id, organization_id = form.id, form.organization_id
    for upload in FormUpload.objects.filter(form=form):
        upload.file.delete(save=False)
    form.delete()
    audit.record(
        action="form.delete",
        resource_type="form",
        resource_id=form_id,
        organization=organization_id,
        changes=diff(before, None),
    )


@transaction.atomic
def form_roles_set(*, form: Form, role_ids: list, scope, user=None) -> list[FormRole]:
    wanted = list(dict.fromkeys(str(r) for r in role_ids))
    roles = {str(r.id): r for r in selectors.roles_assignable_to(form, scope).filter(id__in=wanted)}
    missing = [r for r in wanted if r not in roles]
    if missing:
        raise exceptions.ValidationError(
            {"role_ids": [f"Role {r} does not exist in this form's scope." for r in missing]}
        )
    current = {str(fr.role_id): fr for fr in FormRole.objects.filter(form=form)}
    before = sorted(current)
    FormRole.objects.filter(form=form).exclude(role_id__in=wanted).delete()
    for role_id in wanted:
        if role_id not in current:
            FormRole.objects.create(form=form, role=roles[role_id], assigned_by=user)
    audit.record(
        action="form.roles_update",
        resource_type="form",
        resource_id=form.id,
        organization=form.organization_id,
        changes=diff({"role_ids": before}, {"role_ids": sorted(wanted)}),
    )
    return list(selectors.form_roles(form))


def form_export(form: Form) -> dict:
    return {
        "bifrost_form": EXPORT_VERSION,
        **{key: getattr(form, key) for key in EDITABLE_FIELDS},
        "roles": sorted(fr.role.name for fr in selectors.form_roles(form)),
    }


@transaction.atomic
def form_import(*, scope, data: Any, user=None) -> tuple[Form, list[str]]:
    """Create a form from an export in the current scope. Roles are matched by name among the
    roles visible there; names that match none are returned (and skipped)."""
    if not isinstance(data, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected an exported form (a JSON object)."]})
    version = data.get("bifrost_form", EXPORT_VERSION)
    if version != EXPORT_VERSION:
        raise exceptions.ValidationError({"bifrost_form": [f"Unsupported export version {version!r}."]})
    role_names = data.get("roles") or []
    if not isinstance(role_names, list) or not all(isinstance(n, str) for n in role_names):
        raise exceptions.ValidationError({"roles": ["A list of role names."]})
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise exceptions.ValidationError({"name": ["This field is required."]})
    if data.get("access_level", AccessLevel.ROLE_BASED) not in AccessLevel.values:
        raise exceptions.ValidationError({"access_level": [f"Use one of {', '.join(AccessLevel.values)}."]})
    form = form_create(scope=scope, data=data, user=user)
    by_name = {}
    for role in selectors.roles_assignable_to(form, scope).filter(name__in=role_names).order_by("organization"):
        by_name.setdefault(role.name, role)  # the organization's role wins over a GLOBAL namesake
    for role in by_name.values():
        FormRole.objects.create(form=form, role=role, assigned_by=user)
    skipped = [n for n in role_names if n not in by_name]
    audit.record(
        action="form.import",
        resource_type="form",
        resource_id=form.id,
        organization=form.organization_id,
        changes={"after": {"roles": sorted(by_name), "skipped_roles": skipped}},
    )
    return form, skipped


# --- running ----------------------------------------------------------------------------------


def _fields(form: Form) -> list[dict]:
    return [f for f in (form.schema or {}).get("fields", []) if isinstance(f, dict)]


def _declared(workflow_name: str) -> set[str] | None:
    from workflows.models import Workflow

    params = Workflow.objects.filter(name=workflow_name).values_list("parameters", flat=True).first()
    if params is None:
        return None
    return {p.get("name") for p in params or [] if isinstance(p, dict)}


def _data_provider_options(*, name: str, inputs: dict, organization) -> tuple[list[dict], bool]:
    from workflows.services import data_provider_options

    return data_provider_options(name=name, inputs=inputs, organization=organization)


def _start_for_form(actor: FormActor, workflow_name: str, parameters: dict, **options):
    """Start a workflow for a form (`trigger=form`) as the form's actor, in the actor's organization.
    `options`: `idempotency` and `run_at` of a submit (executions.services.execution_start)."""
    return execution_services.execution_start(
        **options,
        workflow_name=workflow_name,
        parameters=parameters,
        trigger="form",
        organization=actor.organization,
        user=actor.user,
        executed_by_name=actor.executed_by_name,
        form=actor.form,
    )


def _as_dict(value: Any, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise exceptions.ValidationError({name: ["Must be an object."]})
    return value


def form_startup(*, actor: FormActor, values: Any = None, query: Any = None) -> dict:
    """Run the launch workflow (sync) with default_launch_params, then the posted values, then the
    allowed query parameters; only the launch workflow's declared parameters pass."""
    form = actor.form
    values, query = _as_dict(values, "form_data"), _as_dict(query, "query")
    if not form.launch_workflow:
        return {}
    declared = _declared(form.launch_workflow)
    params = dict(form.default_launch_params or {})
    params.update({k: v for k, v in values.items() if declared is None or k in declared})
    allowed = query_param_names(schema=form.schema, allowed_query_params=form.allowed_query_params)
    params.update({k: v for k, v in query.items() if k in allowed and (declared is None or k in declared)})
    execution = execution_services.execution_await(_start_for_form(actor, form.launch_workflow, params))
    if execution.status not in ("Success", "CompletedWithErrors"):
        shown = execution.error_message if (actor.is_admin or execution.error_type == "UserError") else ""
        message = "The form's launch workflow did not finish successfully"
        raise ApplicationError(
            f"{message}: {shown}" if shown else f"{message} ({execution.status}).",
            code="launch_failed",
            details={"execution_id": str(execution.id), "status": execution.status},
        )
    return {"result": execution.result}


def resolve_provider_inputs(field: dict, *, form_data: dict, query: dict, workflow: Any) -> dict:
    data = logic_data(form_data=form_data, query=query, workflow=workflow)
    inputs = {}
    for param, spec in (field.get("data_provider_inputs") or {}).items():
        mode = spec.get("mode")
        if mode == "static":
            value = spec.get("value")
        elif mode == "field_ref":
            value = (form_data or {}).get(spec.get("field"))
        else:
            try:
                value = jsonlogic.evaluate(spec.get("expression"), data)
            except ValueError as exc:
                raise exceptions.ValidationError({f"data_provider_inputs.{param}": [str(exc)]}) from None
        if value not in (None, ""):
            inputs[param] = value
    return inputs


def form_data_provider_options(
    *,
    actor: FormActor,
    provider: str,
    field_name: str | None = None,
    form_data: Any = None,
    query: Any = None,
    workflow: Any = None,
) -> dict:
    form = actor.form
    form_data, query = _as_dict(form_data, "form_data"), _as_dict(query, "query")
    candidates = [f for f in _fields(form) if f.get("data_provider") == provider]
    if not candidates:
        raise exceptions.NotFound(f"This form uses no data provider '{provider}'.")
    field = candidates[0]
    if field_name:
        field = next((f for f in candidates if f.get("name") == field_name), None)
        if field is None:
            raise exceptions.ValidationError({"field": [f"No field '{field_name}' uses data provider '{provider}'."]})
    inputs = resolve_provider_inputs(field, form_data=form_data, query=query, workflow=workflow)
    options, cached = _data_provider_options(name=provider, inputs=inputs, organization=actor.organization)
    return {"options": options, "cached": cached}


def _upload_descriptions(actor: FormActor, field: dict, ids: list) -> list[dict]:
    files = []
    for upload_id in ids:
        upload = selectors.form_upload_get(form=actor.form, upload_id=upload_id, user=actor.user)
        if upload is None or upload.field_name != field["name"]:
            raise ValueError(f"Upload {upload_id} is not a file uploaded to this field.")
        files.append(
            {
                "name": upload.original_name,
                "content_type": upload.content_type,
                "size": upload.size,
                "path": upload.file.path,
            }
        )
    return files


def form_submit(
    *, actor: FormActor, form_data: Any, query: Any = None, workflow: Any = None, idempotency=None, run_at=None
):
    """Validate a submission and start the linked workflow (`trigger=form`), deferred to `run_at` if given.
    Returns the StartedExecution of executions.services.execution_start."""
    form = actor.form
    query = _as_dict(query, "query")

    def provider_values(field: dict) -> list:
        inputs = resolve_provider_inputs(field, form_data=form_data, query=query, workflow=workflow)
        options, _cached = _data_provider_options(
            name=field["data_provider"], inputs=inputs, organization=actor.organization
        )
        return [o.get("value") for o in options if isinstance(o, dict)]

    try:
        cleaned = clean_submission(
            fields=_fields(form),
            form_data=form_data,
            query=query,
            workflow=workflow,
            provider_values=provider_values,
            resolve_uploads=lambda field, ids: _upload_descriptions(actor, field, ids),
        )
    except SubmissionInvalid as exc:
        raise exceptions.ValidationError({"form_data": exc.errors} if "form_data" not in exc.errors else exc.errors)
    declared = _declared(form.workflow)
    parameters = {k: v for k, v in cleaned.items() if declared is None or k in declared}
    return _start_for_form(actor, form.workflow, parameters, idempotency=idempotency, run_at=run_at)


def field_visible_names(form: Form, *, form_data: dict, query: dict, workflow: Any) -> list[str]:
    data = logic_data(form_data=form_data, query=query, workflow=workflow)
    return [f["name"] for f in visible_fields(_fields(form), data)]


# --- uploads ----------------------------------------------------------------------------------


def _type_allowed(allowed: list[str], filename: str, content_type: str) -> bool:
    extension = os.path.splitext(filename)[1].lower()
    for entry in allowed:
        entry = entry.strip().lower()
        if entry.startswith("."):
            if extension == entry:
                return True
        elif entry.endswith("/*"):
            if content_type.startswith(entry[:-1]):
                return True
        elif entry == content_type:
            return True
    return False


@transaction.atomic
def form_upload_create(*, actor: FormActor, field_name: str, file) -> FormUpload:
    field = selectors.form_field(actor.form, field_name or "")
    if field is None or field.get("type") != "file":
        raise exceptions.ValidationError({"field": [f"'{field_name}' is not a file field of this form."]})
    if file is None:
        raise exceptions.ValidationError({"file": ["No file was submitted."]})
    filename = os.path.basename(file.name or "upload")[:255] or "upload"
    # The type is derived from the file name, never from the client's Content-Type header.
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    allowed = field.get("allowed_types") or []
    if allowed and not _type_allowed(allowed, filename, content_type):
        raise exceptions.ValidationError({"file": [f"'{filename}' is not an allowed type ({', '.join(allowed)})."]})
    max_mb = field.get("max_size_mb") or DEFAULT_MAX_SIZE_MB
    if file.size > max_mb * 1024 * 1024:
        raise exceptions.ValidationError({"file": [f"The file is larger than {max_mb} MB."]})
    upload = FormUpload(
        form=actor.form,
        organization=actor.organization,
        field_name=field_name,
        original_name=filename,
        content_type=content_type,
        size=file.size,
        uploaded_by=actor.user,
    )
    upload.file.save(filename, file, save=False)
    upload.save()
    audit.record(
        action="form_upload.create",
        resource_type="form_upload",
        resource_id=upload.id,
        actor_name=None if actor.user else PUBLIC_ACTOR_NAME,
        organization=upload.organization_id,
        changes={"after": {"form": str(actor.form.id), "field": field_name, "name": filename, "size": file.size}},
    )
    return upload


def form_uploads_prune(*, older_than_days: int | None = None, now: dt.datetime | None = None) -> int:
    """Delete uploads (rows and files) older than UPLOAD_RETENTION_DAYS."""
    days = settings.UPLOAD_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    removed = 0
    for upload in FormUpload.objects.filter(created_at__lt=cutoff).iterator():
        try:
            upload.file.delete(save=False)
        except OSError:
            logger.warning("could not delete upload file %s", upload.file.name)
        upload.delete()
        removed += 1
    if removed:
        audit.record(
            action="form_upload.prune",
            resource_type="form_upload",
            actor_name="system:retention",
            changes={"after": {"removed": removed, "older_than_days": days}},
        )
    return removed
