"""Pages: the execution history (`/executions/`) and the live log viewer (`/executions/<id>/`).

Both use the API's visibility selector: an execution the user may not see is a 404.
HTML results are sanitized on the server with nh3 and shown in a sandboxed iframe.
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from bifrost_site.scope import RequestScope
from executions.models import ExecutionStatus, ResultType
from executions.selectors import execution_error_visible, execution_visible, executions_visible_to

HISTORY_PAGE_SIZE = 100


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


@login_required
@require_GET
def execution_detail_page(request, execution_id):
    execution = _visible_or_404(request, execution_id)
    scope = _scope(request)
    error_message, error_type = execution_error_visible(execution, scope)
    page_data = {
        "execution_id": str(execution.id),
        "status": execution.status,
        "is_complete": execution.is_complete,
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "duration_ms": execution.duration_ms,
        "ws_path": f"/ws/executions/{execution.id}/",
        "api_url": f"/api/executions/{execution.id}",
        "result_url": f"/executions/{execution.id}/result/",
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
        },
    )


@login_required
@require_GET
def execution_result_fragment(request, execution_id):
    """The result block alone: the log viewer swaps it in when the execution completes."""
    execution = _visible_or_404(request, execution_id)
    return render(request, "executions/_result.html", {"execution": execution, "result": result_display(execution)})


@login_required
@require_GET
def execution_history_page(request):
    executions = (
        executions_visible_to(_scope(request))
        .select_related("organization")
        .defer("parameters", "result", "variables", "error_message", "organization__settings")
    )
    status = request.GET.get("status", "")
    workflow_name = request.GET.get("workflow_name", "").strip()
    if status in ExecutionStatus.values:
        executions = executions.filter(status=status)
    if workflow_name:
        executions = executions.filter(workflow_name=workflow_name)
    return render(
        request,
        "executions/history.html",
        {
            "executions": list(executions.order_by("-created_at", "-id")[:HISTORY_PAGE_SIZE]),
            "statuses": ExecutionStatus.values,
            "status": status,
            "workflow_name": workflow_name,
            "page_size": HISTORY_PAGE_SIZE,
            "page_data": {"ws_path": "/ws/executions/"},
            "is_admin": request.user.is_platform_admin,
        },
    )
