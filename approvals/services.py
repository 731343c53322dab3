"""Writes of approvals (DESIGN §16): the policy check and request `execution_start` calls, the decisions,
expiry and cancellation. Every status change of the run goes through `executions.transitions`; an approved
run goes through admission (`executions.admission`) and is published like any new run.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from django.db import models, transaction
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from approvals.models import DEFAULT_TIMEOUT_HOURS, MAX_TIMEOUT_HOURS, Approval, ApprovalStatus
from audit.services import audit_record
from bifrost_site.api.errors import ConflictError

logger = logging.getLogger(__name__)

COMMENT_MAX_LENGTH = 2000


@dataclass(frozen=True)
class ApprovalPolicy:
    """What a run needs before it starts: the approver roles (ids) and how long the request stays open."""

    source: str  # "form" | "workflow"
    role_ids: list = field(default_factory=list)
    timeout_hours: int = DEFAULT_TIMEOUT_HOURS


def _timeout_hours(value) -> int:
    try:
        hours = int(value)
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_HOURS
    return min(max(hours, 1), MAX_TIMEOUT_HOURS)


def _policy_role_ids(policy: dict, organization) -> list:
    """Role ids of a workflow policy: `approver_role_ids` as given, `approver_roles` by name (the run's
    organization's role of that name, else the GLOBAL one)."""
    from accounts.models import Role

    ids = [str(i) for i in policy.get("approver_role_ids") or []]
    names = [str(n) for n in policy.get("approver_roles") or []]
    found = []
    if ids:
        found += list(Role.objects.filter(id__in=_uuids(ids)).values_list("id", flat=True))
    if names:
        org_id = getattr(organization, "pk", None)
        by_name: dict = {}
        for role_id, name, role_org in Role.objects.filter(name__in=names).values_list("id", "name", "organization_id"):
            if role_org is None:
                by_name.setdefault(name, role_id)
            elif role_org == org_id:
                by_name[name] = role_id
        found += list(by_name.values())
    return found


def _uuids(values) -> list:
    import uuid

    out = []
    for value in values:
        try:
            out.append(uuid.UUID(str(value)))
        except ValueError:
            logger.warning("approval policy names a role id that is not a UUID: %r", value)
    return out


def approval_required(*, workflow, form=None, organization=None) -> ApprovalPolicy | None:
    """The approval a new run of `workflow` (through `form`) needs, or None. A form's own policy wins over
    the workflow's; the workflow's is the administrator's override, else the decorator's."""
    if form is not None and form.requires_approval:
        return ApprovalPolicy(
            source="form",
            role_ids=list(form.approver_roles.values_list("id", flat=True)),
            timeout_hours=_timeout_hours(form.approval_timeout_hours or DEFAULT_TIMEOUT_HOURS),
        )
    policy = getattr(workflow, "effective_approval_policy", None)
    if not isinstance(policy, dict) or not policy:
        return None
    return ApprovalPolicy(
        source="workflow",
        role_ids=_policy_role_ids(policy, organization),
        timeout_hours=_timeout_hours(policy.get("timeout_hours", DEFAULT_TIMEOUT_HOURS)),
    )


def approval_request(*, execution, policy: ApprovalPolicy, user=None) -> Approval:
    """Create the request for an `AwaitingApproval` run (inside `execution_start`'s transaction); approvers
    are told after commit (notifications)."""
    from executions.engine.logs import log_line
    from executions.models import LogLevel

    requester = user if getattr(user, "is_authenticated", False) else None
    approval = Approval.objects.create(
        execution=execution,
        organization_id=execution.organization_id,
        workflow_name=execution.workflow_name,
        requested_by=requester,
        requested_by_name=execution.executed_by_name,
        expires_at=timezone.now() + datetime.timedelta(hours=policy.timeout_hours),
        policy_source=policy.source,
    )
    if policy.role_ids:
        approval.approver_roles.set(policy.role_ids)
    transaction.on_commit(
        lambda: log_line(
            execution.id,
            LogLevel.INFO,
            f"Waiting for approval (requested by {execution.executed_by_name or 'system'}; "
            f"expires {approval.expires_at:%Y-%m-%d %H:%M} UTC).",
        )
    )
    transaction.on_commit(lambda: _announce("approval.requested", approval.id))
    return approval


def _announce(event: str, approval_id) -> None:
    """Tell the notifications app (when it is installed); never raises into the caller."""
    try:
        from notifications.services import notify_approval
    except ImportError:
        return
    try:
        notify_approval(event=event, approval_id=approval_id)
    except Exception:
        logger.exception("could not enqueue the %s notification for approval %s", event, approval_id)


def _locked(approval_id) -> Approval:
    return (
        Approval.objects.select_for_update(of=("self",)).select_related("execution", "organization").get(id=approval_id)
    )


def _check_decidable(approval: Approval, user) -> None:
    from approvals.selectors import user_may_decide

    if approval.status != ApprovalStatus.PENDING:
        raise ConflictError(
            f"This approval was already decided ({approval.status}).", details={"status": approval.status}
        )
    if approval.expires_at <= timezone.now():
        raise ConflictError("This approval has expired.", details={"status": ApprovalStatus.EXPIRED})
    if approval.requested_by_id is not None and approval.requested_by_id == getattr(user, "pk", None):
        raise PermissionDenied("You cannot decide your own request: another approver must decide it.")
    if not user_may_decide(user, approval):
        raise PermissionDenied("You are not an approver of this request.")


def _record_decision(approval: Approval, *, status: str, user, comment: str) -> None:
    approval.status = status
    approval.decided_by = user
    approval.decided_by_name = getattr(user, "email", "") or "system"
    approval.decided_at = timezone.now()
    approval.comment = comment
    approval.save(update_fields=["status", "decided_by", "decided_by_name", "decided_at", "comment", "updated_at"])
    audit_record(
        action=f"approval.{'approve' if status == ApprovalStatus.APPROVED else 'reject'}",
        resource_type="approval",
        resource_id=approval.id,
        actor=user,
        organization=approval.organization_id,
        changes={
            "before": {"status": ApprovalStatus.PENDING},
            "after": {"status": status, "comment": comment},
            "execution_id": str(approval.execution_id),
            "workflow_name": approval.workflow_name,
        },
    )


def _expire_if_due(approval_id) -> None:
    approval = Approval.objects.filter(id=approval_id).only("status", "expires_at").first()
    if approval is not None and approval.is_pending and approval.expires_at <= timezone.now():
        approval_expire(approval_id=approval_id)


def approval_approve(*, approval_id, user, comment: str = "") -> Approval:
    """Approve: the run goes through admission (`Pending`, published after commit, or waiting for a slot) with
    the parameters as submitted. 409 decided or expired, 403 the requester or not an approver."""
    _expire_if_due(approval_id)
    from executions import admission, transitions
    from executions.engine.logs import log_line
    from executions.models import ExecutionStatus, LogLevel
    from executions.services import publish_admitted
    from workflows.models import Workflow

    with transaction.atomic():
        approval = _locked(approval_id)
        _check_decidable(approval, user)
        execution = approval.execution
        workflow = Workflow.objects.filter(name=execution.workflow_name).first()
        reason = admission.admit(organization=execution.organization, workflow=workflow) if workflow else ""
        admitted = transitions.transition(
            execution.id,
            from_statuses={ExecutionStatus.AWAITING_APPROVAL},
            to=ExecutionStatus.PENDING,
            waiting_reason=reason,
        )
        if admitted is None:
            raise ConflictError(
                "The run is no longer waiting for approval.", details={"execution_status": execution.status}
            )
        _record_decision(approval, status=ApprovalStatus.APPROVED, user=user, comment=comment)
        message = f"Approved by {approval.decided_by_name}" + (f": {comment}" if comment else ".")
        transaction.on_commit(lambda: log_line(execution.id, LogLevel.INFO, message))
        if not reason:
            transaction.on_commit(lambda: publish_admitted(admitted))
        transaction.on_commit(lambda: _announce("approval.decided", approval.id))
    return approval


def approval_reject(*, approval_id, user, comment: str = "") -> Approval:
    """Reject: the run ends `Rejected` with a log line naming who and why."""
    _expire_if_due(approval_id)
    from executions.models import ExecutionStatus

    with transaction.atomic():
        approval = _locked(approval_id)
        _check_decidable(approval, user)
        who = getattr(user, "email", "") or "system"
        message = f"Rejected by {who}" + (f": {comment}" if comment else ".")
        if _end_run(approval, ExecutionStatus.REJECTED, "Rejected", message) is None:
            raise ConflictError("The run is no longer waiting for approval.")
        _record_decision(approval, status=ApprovalStatus.REJECTED, user=user, comment=comment)
        transaction.on_commit(lambda: _announce("approval.decided", approval.id))
    return approval


def _end_run(approval: Approval, to: str, error_type: str, message: str):
    from executions import transitions
    from executions.engine.logs import log_line
    from executions.models import ExecutionStatus, LogLevel

    # The line is stored and broadcast before the final status (on_commit callbacks run in the order they were
    # registered, and the transition registers its status broadcast): the run page's socket stops following
    # the log at the final status, so a line after it would show only on a reload.
    execution_id, outcome = approval.execution_id, {}
    transaction.on_commit(lambda: outcome.get("ended") and log_line(execution_id, LogLevel.ERROR, message))
    ended = transitions.transition(
        execution_id,
        from_statuses={ExecutionStatus.AWAITING_APPROVAL},
        to=to,
        error_type=error_type,
        error_message=message,
    )
    outcome["ended"] = ended is not None
    return ended


def approval_expire(*, approval_id) -> Approval | None:
    """A pending approval past `expires_at` → expired, its run → `Expired`. None when nothing changed."""
    from executions.models import ExecutionStatus

    with transaction.atomic():
        approval = (
            Approval.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(id=approval_id, status=ApprovalStatus.PENDING, expires_at__lte=timezone.now())
            .first()
        )
        if approval is None:
            return None
        hours = round((approval.expires_at - approval.created_at).total_seconds() / 3600)
        message = f"Expired: nobody approved the run within {hours} hours."
        _end_run(approval, ExecutionStatus.EXPIRED, "Expired", message)
        approval.status = ApprovalStatus.EXPIRED
        approval.decided_at = timezone.now()
        approval.decided_by_name = "system:expiry"
        approval.save(update_fields=["status", "decided_at", "decided_by_name", "updated_at"])
        audit_record(
            action="approval.expire",
            resource_type="approval",
            resource_id=approval.id,
            actor_name="system:expiry",
            organization=approval.organization_id,
            changes={"before": {"status": "pending"}, "after": {"status": "expired"}},
        )
        transaction.on_commit(lambda: _announce("approval.decided", approval.id))
    return approval


def approvals_expire_due(*, now=None) -> int:
    """Beat: expire every pending approval past its time."""
    now = now or timezone.now()
    due = Approval.objects.filter(status=ApprovalStatus.PENDING, expires_at__lte=now).values_list("id", flat=True)
    return sum(1 for approval_id in list(due[:1000]) if approval_expire(approval_id=approval_id) is not None)


def approval_cancel_for_execution(*, execution_id) -> None:
    """The waiting run was cancelled (`executions.services.execution_cancel`): close its request."""
    Approval.objects.filter(execution_id=execution_id, status=ApprovalStatus.PENDING).update(
        status=ApprovalStatus.CANCELLED, decided_at=timezone.now(), updated_at=timezone.now()
    )


@transaction.atomic
def workflow_approval_policy_update(*, workflow, user, policy: dict | None):
    """An administrator's approval policy for a workflow (`PATCH /api/workflows/{name}`, the admin); `{}` turns
    approval off, None returns to the `@workflow(approval=...)` declaration. Discovery never changes it."""
    from workflows.services import workflow_override_set

    return workflow_override_set(workflow=workflow, user=user, field="approval_policy_override", value=policy)


def form_approval_apply(*, form, data: dict) -> None:
    """A form's approval policy from a create/update body (or an import): `requires_approval` (bool),
    `approval_timeout_hours` (1–2160 or null = 72), `approver_role_ids` (roles of the form's organization or
    GLOBAL ones). Only the keys present change. 400 naming the field for a bad value."""
    from rest_framework.exceptions import ValidationError

    from accounts.models import Role

    changed = []
    if "requires_approval" in data:
        if not isinstance(data["requires_approval"], bool):
            raise ValidationError({"requires_approval": ["Must be true or false."]})
        form.requires_approval = data["requires_approval"]
        changed.append("requires_approval")
    if "approval_timeout_hours" in data:
        hours = data["approval_timeout_hours"]
        if hours is not None and (
            not isinstance(hours, int) or isinstance(hours, bool) or not 1 <= hours <= MAX_TIMEOUT_HOURS
        ):
            raise ValidationError({"approval_timeout_hours": [f"An integer from 1 to {MAX_TIMEOUT_HOURS}, or null."]})
        form.approval_timeout_hours = hours
        changed.append("approval_timeout_hours")
    if changed:
        form.save(update_fields=[*changed, "updated_at"])
    if "approver_role_ids" in data:
        ids = data["approver_role_ids"]
        if not isinstance(ids, list | tuple):
            raise ValidationError({"approver_role_ids": ["A list of role ids."]})
        wanted = set(_uuids(ids))
        roles = list(
            Role.objects.filter(id__in=wanted, is_active=True).filter(
                models.Q(organization__isnull=True) | models.Q(organization_id=form.organization_id)
            )
        )
        if len(roles) != len(wanted) or len(wanted) != len(ids):
            raise ValidationError(
                {"approver_role_ids": ["Each id must be an active role of the form's organization or a GLOBAL role."]}
            )
        form.approver_roles.set(roles)
