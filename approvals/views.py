"""The /approvals/ page (DESIGN §16, §18): what the user may decide, with Approve / Reject and a comment, and
what they requested. Decisions are CSRF-checked POSTs through the same services as the API. Also the run page's
approval card alone, which the run page refetches when the run's status changes (execution_approval.js)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rest_framework.exceptions import APIException

from approvals import services
from approvals.models import ApprovalStatus
from approvals.selectors import (
    approval_of_visible_execution,
    approval_visible,
    approvals_decidable_by,
    approvals_visible_to,
)
from approvals.services import COMMENT_MAX_LENGTH
from bifrost_site.scope import RequestScope

LIST_LIMIT = 100


def _scope(request) -> RequestScope:
    return RequestScope.for_user(request.user)


@login_required
@require_GET
def approvals_page(request):
    scope = _scope(request)
    related = ("organization", "execution")
    to_decide = list(approvals_decidable_by(scope).select_related(*related).order_by("expires_at")[:LIST_LIMIT])
    for approval in to_decide:  # what the approver approves: the parameters as submitted (masked at rest)
        approval.parameters_json = json.dumps(approval.execution.parameters, indent=2, sort_keys=True, default=str)
    requested = list(
        approvals_visible_to(scope).filter(requested_by_id=request.user.pk).select_related(*related)[:LIST_LIMIT]
    )
    recent = []
    if scope.is_platform_admin:
        recent = list(approvals_visible_to(scope).exclude(status=ApprovalStatus.PENDING).select_related(*related)[:20])
    return render(
        request,
        "approvals/list.html",
        {
            "to_decide": to_decide,
            "requested": requested,
            "recent": recent,
            "comment_max_length": COMMENT_MAX_LENGTH,
        },
    )


def _decide(request, approval_id, decide, done: str):
    approval = approval_visible(_scope(request), approval_id)
    if approval is None:
        raise Http404("Approval not found.")
    comment = request.POST.get("comment", "").strip()[:COMMENT_MAX_LENGTH]
    try:
        decide(approval_id=approval.id, user=request.user, comment=comment)
    except APIException as exc:
        messages.error(request, str(exc.detail))
    else:
        messages.success(request, f"{done} the run of {approval.workflow_name}.")
    return redirect("approvals:list")


@login_required
@require_POST
def approval_approve_view(request, approval_id):
    return _decide(request, approval_id, services.approval_approve, "Approved")


@login_required
@require_POST
def approval_reject_view(request, approval_id):
    return _decide(request, approval_id, services.approval_reject, "Rejected")


@login_required
@require_GET
@never_cache
def execution_approval_block(request, execution_id):
    """The run page's approval card alone (HTML): the page swaps it in when the run's status changes, so the
    outcome shows without a reload. Visible exactly when the run page is (else 404, another organization's
    run included); a run without an approval is a 404 too."""
    execution, approval = approval_of_visible_execution(_scope(request), execution_id)
    if approval is None:
        raise Http404("No approval for this run.")
    return render(request, "approvals/_approval_card.html", {"approval": approval, "execution": execution})
