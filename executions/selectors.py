"""Reads of executions and their logs: the ONE visibility rule (DESIGN §4, §6, §10).

The API, the WebSocket consumers, the log viewer page and anything else that shows an execution
start from `executions_visible_to(scope)`:
- it applies the ACTIVITY tenancy choke point (`Execution.objects.for_scope(scope)`): a platform
  admin without an organization sees every organization, with one only that organization;
- an ORG user additionally sees only the executions they started (`executed_by = user`).
ORG users never see DEBUG or traceback lines, variables, or error details other than `UserError`.
"""

from __future__ import annotations

from django.db.models import QuerySet

from executions.models import Execution, ExecutionLog, LogLevel

ADMIN_ONLY_LEVELS = frozenset({LogLevel.DEBUG.value, LogLevel.TRACEBACK.value})
USER_ERROR_TYPE = "UserError"
GENERIC_ERROR_MESSAGE = "An error occurred during execution"
# Errors Bifrost writes itself about a person's decision (approvals: who rejected and why, the expiry):
# never exception text, so every user sees them as written.
DECISION_ERROR_TYPES = frozenset({"Rejected", "Expired"})


def _is_admin(scope) -> bool:
    return bool(scope is not None and scope.is_platform_admin)


def executions_visible_to(scope) -> QuerySet[Execution]:
    """Every execution the scope may see (no scope, or an anonymous user: none)."""
    queryset = Execution.objects.for_scope(scope)
    if scope is None or not getattr(scope.user, "is_authenticated", False):
        return queryset.none()
    if not scope.is_platform_admin:
        queryset = queryset.filter(executed_by_id=scope.user.pk)
    return queryset


def execution_visible(scope, execution_id) -> Execution | None:
    """One execution by id if the scope may see it, else None (a malformed id is simply not found)."""
    from django.core.exceptions import ValidationError

    try:
        return executions_visible_to(scope).select_related("organization", "executed_by", "form").get(id=execution_id)
    except (Execution.DoesNotExist, ValidationError, ValueError, TypeError):
        return None


def execution_visible_in_scope(*, organization_id, executed_by_id, scope) -> bool:
    """The same rule as `executions_visible_to`, for a status event that carries only ids.

    Used by the history WebSocket to filter broadcast status changes without a query per event.
    """
    if scope is None or not getattr(scope.user, "is_authenticated", False):
        return False
    org_id = str(organization_id) if organization_id else None
    if scope.is_platform_admin:
        return scope.organization_id is None or org_id == str(scope.organization_id)
    if scope.organization_id is None or org_id != str(scope.organization_id):
        return False
    return executed_by_id is not None and str(executed_by_id) == str(scope.user.pk)


def log_level_visible(level: str, scope) -> bool:
    return _is_admin(scope) or level not in ADMIN_ONLY_LEVELS


def execution_logs_visible(execution, scope, after: int | None = None) -> QuerySet[ExecutionLog]:
    """The execution's log lines the scope may read, ordered by sequence, after `after` if given.

    The caller has already checked that `execution` itself is visible (`executions_visible_to`).
    """
    queryset = ExecutionLog.objects.filter(execution_id=getattr(execution, "pk", execution))
    if after is not None:
        queryset = queryset.filter(sequence__gt=after)
    if not _is_admin(scope):
        queryset = queryset.exclude(level__in=ADMIN_ONLY_LEVELS)
    return queryset.order_by("sequence")


def execution_error_visible(execution, scope) -> tuple[str, str]:
    """(error_message, error_type) as the scope may see them.

    Admins see both as stored. Other users see a `UserError` message as written and any other
    error only as "An error occurred during execution" (error_type empty).
    """
    if _is_admin(scope):
        return execution.error_message, execution.error_type
    if not (execution.error_message or execution.error_type):
        return "", ""
    if execution.error_type == USER_ERROR_TYPE:
        return execution.error_message, USER_ERROR_TYPE
    if execution.error_type in DECISION_ERROR_TYPES:
        return execution.error_message, execution.error_type
    return GENERIC_ERROR_MESSAGE, ""
