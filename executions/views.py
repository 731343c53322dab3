"""Pages: the run history (`/executions/`), the live log viewer (`/executions/<id>/`), its log downloads and
the Cancel / Rerun buttons (POST forms with CSRF that call the services the API uses).

Every page starts from the API's visibility selector: an execution the user may not see is a 404.
HTML results are sanitized on the server with nh3 and shown in a sandboxed iframe.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.http import Http404, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from bifrost_site.scope import RequestScope
from bifrost_site.templatetags.portal import STATUS_LABELS, TRIGGER_LABELS
from executions.models import ExecutionStatus, ResultType, Trigger
from executions.selectors import (
    USER_ERROR_TYPE,
    execution_error_visible,
    execution_logs_visible,
    execution_visible,
    executions_visible_to,
)

HISTORY_PAGE_SIZE = 50
# What execution_cancel accepts; "Scheduled" (a deferred run, DESIGN §15) as a string until every tree has it.
CANCELLABLE = frozenset({"Scheduled", ExecutionStatus.PENDING, ExecutionStatus.RUNNING})
# The history's columns and nothing else: no JSON (parameters, result, variables) is loaded for a list.
HISTORY_COLUMNS = (
    "id",
    "organization",
    "form",
    "created_at",
    "workflow_name",
    "status",
    "trigger",
    "executed_by_name",
    "duration_ms",
    "organization__name",
    "form__name",
)


def _scope(request) -> RequestScope:
    return RequestScope.for_user(request.user)


def _visible_or_404(request, execution_id):
    execution = execution_visible(_scope(request), execution_id)
    if execution is None:
        raise Http404("Execution not found.")
    return execution


def result_display(execution) -> dict:
    """What the result block shows: kind `json` (pretty text), `html` (sanitized), `text` or `none`."""
    result, result_type = execution.result, execution.result_type
    if not execution.is_complete or result is None or result_type == ResultType.NONE:
        return {"kind": "none"}
    if result_type == ResultType.HTML and isinstance(result, str):
        import nh3  # only for HTML results: not loaded with the URLconf (docs/performance.md, Memory)

        return {"kind": "html", "html": nh3.clean(result)}
    if result_type == ResultType.TEXT and isinstance(result, str):
        return {"kind": "text", "text": result}
    return {"kind": "json", "text": json.dumps(result, indent=2, sort_keys=True, cls=DjangoJSONEncoder)}


def can_cancel(execution) -> bool:
    """Scheduled, Pending or Running; the caller has already checked that the user may see it (ORG users:
    only their own runs; admins: their scope), which is the API's rule for POST .../cancel too."""
    return execution.status in CANCELLABLE


def _form_run_again_url(execution, scope) -> str | None:
    """The form page prefilled with this run's values, when a form started it and the user may still use it."""
    if not execution.form_id:
        return None
    from forms_app.selectors import forms_visible_to

    if scope.is_platform_admin or forms_visible_to(scope).filter(id=execution.form_id).exists():
        return f"/forms/{execution.form_id}/?rerun={execution.id}"
    return None


@login_required
@require_GET
def execution_detail_page(request, execution_id):
    execution = _visible_or_404(request, execution_id)
    scope = _scope(request)
    error_message, error_type = execution_error_visible(execution, scope)
    if error_type == USER_ERROR_TYPE:
        error_type = ""  # the author's message is the whole story: no exception class name
    page_data = {
        "execution_id": str(execution.id),
        "status": execution.status,
        "is_complete": execution.is_complete,
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "duration_ms": execution.duration_ms,
        "ws_path": f"/ws/executions/{execution.id}/",
        "api_url": f"/api/executions/{execution.id}",
        "result_url": f"/executions/{execution.id}/result/",
        "status_labels": STATUS_LABELS,
    }
    return render(
        request,
        "executions/detail.html",
        {
            "execution": execution,
            "is_admin": scope.is_platform_admin,
            "parameters_json": json.dumps(execution.parameters, indent=2, sort_keys=True, cls=DjangoJSONEncoder),
            "result": result_display(execution),
            "error_message": error_message,
            "error_type": error_type,
            "page_data": page_data,
            "can_cancel": can_cancel(execution),
            "can_rerun": scope.is_platform_admin,
            "run_again_url": _form_run_again_url(execution, scope),
            **_code_version_context(execution, scope),
        },
    )


def _code_version_context(execution, scope) -> dict:
    """Admins: the workflow source this run used and whether today's differs (DESIGN §20, issue 26)."""
    if not scope.is_platform_admin:
        return {}
    from workflows.selectors import execution_source

    source = execution_source(execution)
    return {"code_version": source["version"], "code_changed": source["code_changed"]}


@login_required
@require_GET
def execution_result_fragment(request, execution_id):
    """The result block alone: the log viewer swaps it in when the execution completes."""
    execution = _visible_or_404(request, execution_id)
    return render(request, "executions/_result.html", {"execution": execution, "result": result_display(execution)})


@login_required
@require_POST
def execution_cancel_view(request, execution_id):
    """The Cancel button: the same service and rule as POST /api/executions/{id}/cancel."""
    from bifrost_site.api.errors import ApplicationError
    from executions.services import execution_cancel

    execution = _visible_or_404(request, execution_id)
    try:
        cancelled = execution_cancel(execution=execution, user=request.user)
    except ApplicationError as exc:
        messages.error(request, _api_message(exc))
    else:
        messages.success(
            request, "The run was cancelled." if cancelled.is_complete else "Cancelling: the run is being stopped."
        )
    return redirect(f"/executions/{execution.id}/")


@login_required
@require_POST
def execution_rerun_view(request, execution_id):
    """Rerun (platform admins): the same workflow and parameters again; opens the new run's page."""
    from rest_framework.exceptions import APIException

    from executions.services import execution_rerun

    if not request.user.is_platform_admin:
        return HttpResponseForbidden("Only platform admins may rerun an execution.")
    execution = _visible_or_404(request, execution_id)
    try:
        started = execution_rerun(execution=execution, user=request.user)
    except APIException as exc:
        messages.error(request, f"The run could not be started again: {_api_message(exc)}")
        return redirect(f"/executions/{execution.id}/")
    messages.success(request, "A new run was started with the same parameters.")
    return redirect(f"/executions/{started.execution.id}/")


def _api_message(exc) -> str:
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        return "; ".join(
            f"{key}: {' '.join(map(str, value)) if isinstance(value, list) else value}" for key, value in detail.items()
        )
    if isinstance(detail, list):
        return " ".join(map(str, detail))
    return str(detail if detail is not None else exc)


# --- log downloads -------------------------------------------------------------------------------


def _log_download(request, execution_id, *, extension: str, content_type: str, render_line):
    execution = _visible_or_404(request, execution_id)
    lines = execution_logs_visible(execution, _scope(request)).only("sequence", "level", "message", "timestamp", "data")

    def stream():
        for number, line in enumerate(lines.iterator(chunk_size=2000), start=1):
            yield render_line(number, line)

    response = StreamingHttpResponse(stream(), content_type=content_type)
    name = f"{execution.workflow_name}-{execution.id}.{extension}"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _timestamp(value) -> str:
    return value.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@login_required
@require_GET
def execution_log_text(request, execution_id):
    """The log as plain text, with the lines this user may see (ORG users: no DEBUG or traceback lines)."""
    return _log_download(
        request,
        execution_id,
        extension="log",
        content_type="text/plain; charset=utf-8",
        render_line=lambda number, line: f"{_timestamp(line.timestamp)} {line.level.upper():<9} {line.message}\n",
    )


@login_required
@require_GET
def execution_log_ndjson(request, execution_id):
    """The log as NDJSON: one {"line", "level", "message", "timestamp", "data"} object per line."""
    return _log_download(
        request,
        execution_id,
        extension="ndjson",
        content_type="application/x-ndjson; charset=utf-8",
        render_line=lambda number, line: (
            json.dumps(
                {
                    "line": number,
                    "level": line.level,
                    "message": line.message,
                    "timestamp": _timestamp(line.timestamp),
                    "data": line.data,
                },
                cls=DjangoJSONEncoder,
            )
            + "\n"
        ),
    )


# --- history ---------------------------------------------------------------------------------------


@dataclass
class HistoryFilters:
    form: str = ""
    workflow: str = ""
    status: str = ""
    trigger: str = ""
    since: str = ""
    until: str = ""
    q: str = ""
    organization: str = ""
    user: str = ""
    tz: str = ""

    @classmethod
    def from_request(cls, request, *, is_admin: bool) -> HistoryFilters:
        get = request.GET
        # NUL cannot reach PostgreSQL in a string: a hostile value is simply cleaned
        filters = cls(
            **{name: get.get(name, "").replace("\x00", "").strip()[:200] for name in cls.__dataclass_fields__}
        )
        if not is_admin:
            filters.organization = filters.user = ""
        return filters

    def query(self, **extra) -> str:
        values = {k: v for k, v in {**self.__dict__, **extra}.items() if v}
        return "?" + urlencode(values) if values else "?"

    @property
    def active(self) -> bool:
        return any(v for k, v in self.__dict__.items() if k != "tz")

    @property
    def narrowing(self) -> bool:
        """A filter other than the search box is set (the filter panel then stays open on phones)."""
        return any(v for k, v in self.__dict__.items() if k not in ("tz", "q"))


def _day_start(value: str, tz_minutes: str, *, next_day: bool = False):
    """Midnight of a YYYY-MM-DD day in the browser's time zone (`tz`: minutes west of UTC, as JS gives it)."""
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        return None
    try:
        offset = max(-840, min(840, int(tz_minutes)))
    except ValueError:
        offset = 0
    if next_day:
        day += datetime.timedelta(days=1)
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC) + datetime.timedelta(minutes=offset)


def _uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        return None


def _apply_filters(executions, filters: HistoryFilters):
    if filters.status in ExecutionStatus.values:
        executions = executions.filter(status=filters.status)
    if filters.trigger in Trigger.values:
        executions = executions.filter(trigger=filters.trigger)
    if filters.workflow:
        executions = executions.filter(workflow_name=filters.workflow)
    form_id = _uuid_or_none(filters.form)
    if filters.form:
        executions = executions.filter(form_id=form_id) if form_id else executions.none()
    since = _day_start(filters.since, filters.tz) if filters.since else None
    if since:
        executions = executions.filter(created_at__gte=since)
    until = _day_start(filters.until, filters.tz, next_day=True) if filters.until else None
    if until:
        executions = executions.filter(created_at__lt=until)
    if filters.q:
        executions = executions.filter(Q(workflow_name__icontains=filters.q) | Q(form__name__icontains=filters.q))
    if filters.organization == "global":
        executions = executions.filter(organization__isnull=True)
    elif filters.organization:
        org_id = _uuid_or_none(filters.organization)
        executions = executions.filter(organization_id=org_id) if org_id else executions.none()
    if filters.user:
        executions = executions.filter(executed_by_name__icontains=filters.user)
    return executions


def _encode_cursor(execution) -> str:
    raw = f"{execution.created_at.isoformat()}|{execution.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(value: str):
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        created, ident = raw.split("|", 1)
        return datetime.datetime.fromisoformat(created), uuid.UUID(ident)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def _page(executions, *, after, before):
    """One page of the newest-first list, by keyset on (created_at, id): no OFFSET, no row cap.

    `after`: the rows older than that cursor; `before`: the rows newer than it. Returns
    (rows, older_cursor or None, newer_cursor or None)."""
    size = HISTORY_PAGE_SIZE
    if before is not None:
        created, ident = before
        newer = executions.filter(Q(created_at__gt=created) | Q(created_at=created, id__gt=ident))
        rows = list(newer.order_by("created_at", "id")[: size + 1])
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        return rows, (_encode_cursor(rows[-1]) if rows else None), (_encode_cursor(rows[0]) if has_newer else None)
    if after is not None:
        created, ident = after
        executions = executions.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=ident))
    rows = list(executions.order_by("-created_at", "-id")[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    older = _encode_cursor(rows[-1]) if has_older else None
    newer = _encode_cursor(rows[0]) if (after is not None and rows) else None
    return rows, older, newer


def _filter_choices(scope, is_admin: bool) -> dict:
    """The options of the form, workflow and organization selects (one query each)."""
    from forms_app.models import Form
    from forms_app.selectors import forms_visible_to

    if is_admin:
        from orgs.models import Organization
        from workflows.models import Workflow

        forms = Form.objects.order_by("name").values_list("id", "name")
        workflows = Workflow.objects.order_by("name").values_list("name", flat=True)
        organizations = list(Organization.objects.order_by("name").values_list("id", "name"))
    else:
        forms = forms_visible_to(scope).order_by("name").values_list("id", "name")
        workflows = executions_visible_to(scope).order_by("workflow_name").values_list("workflow_name", flat=True)
        workflows = workflows.distinct()
        organizations = []
    return {
        "forms": [(str(form_id), name) for form_id, name in forms],
        "workflows": list(workflows),
        "organizations": [(str(org_id), name) for org_id, name in organizations],
    }


@login_required
@require_GET
def execution_history_page(request):
    scope = _scope(request)
    is_admin = scope.is_platform_admin
    filters = HistoryFilters.from_request(request, is_admin=is_admin)
    executions = _apply_filters(
        executions_visible_to(scope).select_related("organization", "form").only(*HISTORY_COLUMNS), filters
    )
    after, before = _decode_cursor(request.GET.get("after", "")), _decode_cursor(request.GET.get("before", ""))
    rows, older, newer = _page(executions, after=after, before=before)
    return render(
        request,
        "executions/history.html",
        {
            "executions": rows,
            "filters": filters,
            "choices": _filter_choices(scope, is_admin),
            "statuses": [(value, STATUS_LABELS.get(value, value)) for value in ExecutionStatus.values],
            "triggers": [(value, TRIGGER_LABELS.get(value, value)) for value in Trigger.values],
            "older_url": filters.query(after=older) if older else None,
            "newer_url": filters.query(before=newer) if newer else None,
            "first_page": after is None and before is None,
            "page_size": HISTORY_PAGE_SIZE,
            "page_data": {
                "ws_path": "/ws/executions/",
                "status_labels": STATUS_LABELS,
                "follow_new": after is None and before is None,
            },
            "is_admin": is_admin,
            "now": timezone.now(),
        },
    )
