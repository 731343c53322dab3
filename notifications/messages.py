"""What a message says (DESIGN §16). Only stored values go in, and those are already masked (the engine
replaces secret values before anything is stored); parameters and results never do. Channels of an
organization (customer-facing) never get an exception's text: an error shows there only when it is a
`UserError`, as the portal shows it (executions.presenters.visible_error)."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from executions.selectors import DECISION_ERROR_TYPES, GENERIC_ERROR_MESSAGE, USER_ERROR_TYPE

BODY_LIMIT = 4000


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _link(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def _error_line(execution, *, customer_facing: bool) -> str:
    if not (execution.error_type or execution.error_message):
        return ""
    if not customer_facing or execution.error_type in (USER_ERROR_TYPE, *DECISION_ERROR_TYPES):
        kind = f"{execution.error_type}: " if execution.error_type and not customer_facing else ""
        return f"Error: {kind}{execution.error_message}"
    return f"Error: {GENERIC_ERROR_MESSAGE}"


def execution_message(execution, event: str, *, customer_facing: bool) -> Message:
    where = execution.organization.name if execution.organization_id else "Global"
    verb = {
        "execution.failed": "failed" if execution.status == "Failed" else "completed with errors",
        "execution.timed_out": "timed out",
        "execution.succeeded": "succeeded",
    }.get(event, execution.status)
    lines = [
        f"Workflow: {execution.workflow_name}",
        f"Organization: {where}",
        f"Status: {execution.status}",
        f"Run by: {execution.executed_by_name or 'system'}",
    ]
    if execution.duration_ms is not None:
        lines.append(f"Duration: {execution.duration_ms / 1000:.1f} s")
    error = _error_line(execution, customer_facing=customer_facing)
    if error:
        lines.append(error)
    lines.append(f"Run: {_link(f'/executions/{execution.id}/')}")
    return Message(f"[Bifrost] {execution.workflow_name} {verb} ({where})", "\n".join(lines)[:BODY_LIMIT])


def approval_message(approval, event: str) -> Message:
    where = approval.organization.name if approval.organization_id else "Global"
    link = _link(f"/approvals/#approval-{approval.id}")
    if event == "approval.requested":
        title = f"[Bifrost] Approval needed: {approval.workflow_name} ({where})"
        lines = [
            f"{approval.requested_by_name or 'system'} asks to run {approval.workflow_name} in {where}.",
            f"Decide before {approval.expires_at:%Y-%m-%d %H:%M} UTC: {link}",
        ]
    else:
        title = f"[Bifrost] {approval.workflow_name} {approval.status} ({where})"
        who = approval.decided_by_name or "system"
        lines = [
            f"The run of {approval.workflow_name} requested by {approval.requested_by_name or 'system'} was "
            f"{approval.status} by {who}."
        ]
        if approval.comment:
            lines.append(f"Comment: {approval.comment}")
        lines.append(link)
    return Message(title, "\n".join(lines)[:BODY_LIMIT])


def approver_email(approval) -> Message:
    """The email every approver gets: who asks, what, until when, and the link to decide."""
    message = approval_message(approval, "approval.requested")
    body = (
        f"{message.body}\n\nYou receive this because you may approve runs of {approval.workflow_name}. "
        "The requester cannot decide their own request."
    )
    return Message(message.title, body)


def event_message(event: str, *, title: str, detail: str, customer_facing: bool) -> Message:
    """oauth.refresh_failed, workspace.job_failed: the provider's or job's text only for the MSP's channels."""
    body = title if customer_facing or not detail else f"{title}\n{detail}"
    return Message(f"[Bifrost] {title}", body[:BODY_LIMIT])
